"""The node serves an assembled delta model on a Python where torch cannot be imported.

A vehicle image may have only ONNX Runtime (or TensorRT). The node process here gets a
`torch` package first on its path that refuses to import (and writes down who tried), and a
delta model whose backbone comes from a wheel-like package, as the default model's does. With
the model assembled in the cache it must serve frames over real DDS without trying torch;
with no cache it must refuse to start with the one-line error naming the pip command.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from delta_fixtures import SIZE, standin_backbone, trained, with_backbone_ref

pytest.importorskip("rclpy")

from uncertainty_seg_node.export.assemble import CACHE_ENV, assemble_onnx  # noqa: E402
from uncertainty_seg_node.export.delta import read_delta, save_delta  # noqa: E402
from uncertainty_seg_node.inference.factory import load_predictor  # noqa: E402
from uncertainty_seg_node.ros_drivers.harness import (  # noqa: E402
    GraphClient,
    NodeProcess,
    output_array,
)

pytestmark = pytest.mark.ros

ATTEMPTS_ENV = "UNCERTAINTY_SEG_TEST_TORCH_ATTEMPTS"
BLOCKER = f'''"""Stands in for torch in the test: importing it fails as if torch were absent."""
import os
import traceback

if os.environ.get("{ATTEMPTS_ENV}"):
    with open(os.environ["{ATTEMPTS_ENV}"], "a") as log:
        log.write("".join(traceback.format_stack()) + "---\\n")
raise ModuleNotFoundError("No module named 'torch' (blocked by the test)", name="torch")
'''
WHEEL = "uncertainty_seg_test_backbone_wheel"


@dataclass(frozen=True)
class TorchlessSetup:
    delta: Path
    onnx: Path  # the delta's assembled model, in `cache`
    cache: Path
    path: str  # PYTHONPATH of the node process: the torch blocker, then the backbone wheel


@pytest.fixture(scope="module")
def torchless(tmp_path_factory: pytest.TempPathFactory) -> TorchlessSetup:
    root = tmp_path_factory.mktemp("torchless")
    package = root / "site" / WHEEL
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('found by find_spec only')\n")
    backbone = standin_backbone(package / "models" / "vit_tiny_focus.onnx", 5)
    model = trained(backbone)
    model.config.provenance.update(data="runs/synth/data/source", labelled_images=400,
                                   unlabelled="runs/synth/data/unlabelled", steps=400)
    plain = save_delta(model, backbone, root / "plain.delta.safetensors").path
    ref = dataclasses.replace(read_delta(plain).backbone, package=WHEEL,
                              file="models/vit_tiny_focus.onnx")
    delta = with_backbone_ref(plain, root / "wheel.delta.safetensors", ref)
    cache = root / "cache"
    onnx = assemble_onnx(delta, backbone=backbone, cache=cache, quiet=True)
    (root / "blocker" / "torch").mkdir(parents=True)
    (root / "blocker" / "torch" / "__init__.py").write_text(BLOCKER)
    return TorchlessSetup(delta, onnx, cache,
                          os.pathsep.join([str(root / "blocker"), str(root / "site")]))


def _env(setup: TorchlessSetup, cache: Path, attempts: Path) -> dict[str, str]:
    return {"PYTHONPATH": setup.path, CACHE_ENV: str(cache), ATTEMPTS_ENV: str(attempts)}


@pytest.fixture(scope="module")
def node(torchless: TorchlessSetup, dds_domain: int,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Path]]:
    logs = tmp_path_factory.mktemp("torchless_node")
    attempts = logs / "torch_attempts.txt"
    # ONNX Runtime, the vehicle image this stands for (OpenVINO's first int8 build imports
    # NNCF, which imports torch where it is installed).
    process = NodeProcess({"model_path": str(torchless.delta), "on_model_error": "fail",
                           "backend": "onnxruntime"},
                          domain_id=dds_domain, log_path=logs / "node.log",
                          env=_env(torchless, torchless.cache, attempts))
    with process:
        yield process, attempts


def test_blocker_really_blocks_torch(torchless: TorchlessSetup, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts.txt"
    env = dict(os.environ, **_env(torchless, torchless.cache, attempts))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1 and "No module named 'torch'" in probe.stderr
    assert attempts.is_file()


def test_serves_cached_model_without_torch(node: tuple[NodeProcess, Path],
                                           torchless: TorchlessSetup, dds_domain: int) -> None:
    process, attempts = node
    client = GraphClient(dds_domain, outputs=("segmentation", "confidence", "certain_mask"))
    try:
        assert client.wait_until_connected(120.0), process.output()
        # qos_reliability=auto remakes the subscription reliable once it sees our publisher;
        # a frame sent during that swap may be lost, so send only after it
        assert client.wait_input_reliable(30.0), process.output()
        reference = load_predictor(torchless.onnx, "onnxruntime")
        rng = np.random.default_rng(3)
        for index in range(3):
            image = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
            key = client.publish_image(image, "rgb8", 1_000_000_000 + index)
            outputs = client.wait_outputs(key, timeout=30.0)
            assert outputs, process.output()
            expected = reference.predict(image, encoding="rgb8")
            np.testing.assert_array_equal(output_array(outputs["segmentation"]),
                                          expected.class_ids)
    finally:
        client.close()
    assert process.alive()
    assert not attempts.exists(), "the node tried to import torch:\n" + attempts.read_text()
    maps = Path(f"/proc/{process.pid}/maps").read_text()
    assert "libtorch" not in maps


def test_no_cache_and_no_torch_is_one_clear_error(torchless: TorchlessSetup, dds_domain: int,
                                                  tmp_path: Path) -> None:
    empty = tmp_path / "empty_cache"
    process = NodeProcess({"model_path": str(torchless.delta), "on_model_error": "fail",
                           "backend": "onnxruntime"},
                          domain_id=dds_domain, log_path=tmp_path / "node.log",
                          env=_env(torchless, empty, tmp_path / "attempts.txt")).start()
    assert process.process is not None
    code = process.process.wait(120.0)
    log = process.output()
    process.stop()
    assert code == 2, log
    assert "Traceback" not in log
    line = next(x for x in log.splitlines() if "cannot start" in x)
    assert "assembling it needs torch" in line
    assert "python3 -m pip install 'torch>=2.1'" in line
    assert f"uncertainty-seg assemble --model {torchless.delta}" in line
    assert not empty.exists() or not list(empty.iterdir())


def test_start_log_says_what_the_model_is(node: tuple[NodeProcess, Path]) -> None:
    process, _ = node
    log = process.output()
    info = next(x for x in log.splitlines() if "model: tiny, " in x)
    assert "[INFO]" in info and "19 classes (road, sidewalk," in info
    assert f"network input {SIZE[0]}x{SIZE[1]} (HxW)" in info
    trained_on = next(x for x in log.splitlines() if "trained on " in x)
    assert "400 labelled frames from runs/synth/data/source" in trained_on
    warning = next(x for x in log.splitlines() if "synthetic frames only" in x)
    assert "[WARN]" in warning and "docs/tutorial.md" in warning
