"""Replay on bad input: missing topic, truncated bag, wrong label size, mismatched stamps, Ctrl-C.

Whatever stops a replay early, the output bag must reopen and the partial metrics be saved.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from inference_fixtures import tiny_checkpoint
from replay_fixtures import one_torch_thread  # noqa: F401

from uncertainty_seg_node.bags.bag_io import BagWriter, list_topics, read_arrays
from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.factory import load_predictor
from uncertainty_seg_node.replay.evaluation import FrameRecord
from uncertainty_seg_node.replay.replay import ReplayOptions, replay
from uncertainty_seg_node.replay.report import write_report

pytestmark = pytest.mark.usefixtures("one_torch_thread")

START = 1_700_000_000 * 10**9
STEP = 50_000_000
H, W = 28, 56
SEG = "/uncertainty_seg_node/segmentation"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", seed=1,
                           size=(28, 56), default_gamma=0.5)


@pytest.fixture(scope="module")
def predictor(tiny_model: Path):  # type: ignore[no-untyped-def]
    return load_predictor(tiny_model)


def write_bag(path: Path, n: int, *, label_size: tuple[int, int] = (H, W),
              storage: str = "mcap") -> list[int]:
    rng = np.random.default_rng(0)
    stamps = [START + i * STEP for i in range(n)]
    with BagWriter(path, storage) as writer:
        for stamp in stamps:
            writer.write_image("/camera/image_raw", stamp, "cam",
                               rng.integers(0, 255, (H, W, 3)).astype(np.uint8), "rgb8")
            writer.write_labels("/camera/labels", stamp, "cam",
                                rng.integers(0, 19, label_size).astype(np.uint8))
    return stamps


def _cli(*args: str) -> int:
    return main(["replay", "--no-progress", *args])


def _replay_with_labels(tmp_path: Path, model: Path) -> int:
    """Replay tmp_path/in (camera topic) with the labels in tmp_path/gt into a report."""
    return _cli("--bag", str(tmp_path / "in"), "--image-topic", "/camera/image_raw",
                "--model", str(model), "--labels", str(tmp_path / "gt"),
                "--report", str(tmp_path / "report"))


def test_bag_without_the_topic_lists_its_topics(tmp_path: Path, tiny_model: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_bag(tmp_path / "in", 2)
    code = _cli("--bag", str(tmp_path / "in"), "--image-topic", "/front/image",
                "--model", str(tiny_model), "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == 2
    assert "/front/image is not in bag" in err
    assert "/camera/image_raw" in err and "/camera/labels" in err
    assert not (tmp_path / "out").exists()


def test_truncated_bag_keeps_what_was_read(tmp_path: Path, tiny_model: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bag = tmp_path / "in"
    write_bag(bag, 12)
    storage = next(bag.glob("*.mcap"))
    data = storage.read_bytes()
    storage.write_bytes(data[: len(data) // 2])  # recorder killed mid-drive
    out, report = tmp_path / "out", tmp_path / "report"
    code = _cli("--bag", str(bag), "--image-topic", "/camera/image_raw", "--model",
                str(tiny_model), "--out", str(out), "--label-topic", "/camera/labels",
                "--report", str(report))
    err = capsys.readouterr().err
    assert code == 1
    assert "truncated or corrupt" in err and "last good" in err
    metrics = json.loads((report / "metrics.json").read_text())
    frames = metrics["run"]["frames"]
    assert 0 < frames < 12
    assert "truncated" in metrics["run"]["stopped_early"]
    assert metrics["frames"] == frames and metrics["maxf05"] is not None
    written = list(read_arrays(out, SEG))  # the output bag reopens, with every frame
    assert len(written) == frames
    assert written[-1].stamp_ns == metrics["run"]["last_good_stamp_ns"]


def test_label_topic_of_another_size_is_an_error(tmp_path: Path, predictor) -> None:
    write_bag(tmp_path / "in", 2, label_size=(H + 2, W))
    with pytest.raises(UserError, match=r"is 56x30 but its image is 56x28"):
        replay(predictor, ReplayOptions(
            bag=tmp_path / "in", image_topic="/camera/image_raw", out=tmp_path / "out",
            label_topic="/camera/labels", progress=False))
    assert list_topics(tmp_path / "out") == {}  # closed: a valid (empty) bag


def test_label_folder_of_another_size_is_an_error(tmp_path: Path, tiny_model: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    write_bag(tmp_path / "in", 2)
    for i in range(2):
        (tmp_path / "gt" / "labels").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "gt" / "labels" / f"{i:04d}.png"),
                    np.zeros((H // 2, W // 2), np.uint8))
    code = _replay_with_labels(tmp_path, tiny_model)
    assert code == 2
    assert "0000.png is 28x14 (WxH) but its image is 56x28" in capsys.readouterr().err


def test_label_count_mismatch_is_refused_up_front(tmp_path: Path, tiny_model: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    write_bag(tmp_path / "in", 3, storage="sqlite3")
    (tmp_path / "gt" / "labels").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "gt" / "labels" / "a.png"), np.zeros((H, W), np.uint8))
    code = _replay_with_labels(tmp_path, tiny_model)
    assert code == 2
    assert "1 label files" in capsys.readouterr().err


def test_mismatched_timestamps_are_a_clear_error(tmp_path: Path, tiny_model: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    stamps = write_bag(tmp_path / "in", 3)
    folder = tmp_path / "gt" / "gtFine" / "val" / "drive"
    folder.mkdir(parents=True)
    for stamp in stamps:  # off by one microsecond: the recorder used receive times
        cv2.imwrite(str(folder / f"drive_{stamp + 1000}_gtFine_labelTrainIds.png"),
                    np.zeros((H, W), np.uint8))
    report = tmp_path / "report"
    code = _cli("--bag", str(tmp_path / "in"), "--image-topic", "/camera/image_raw",
                "--model", str(tiny_model), "--labels", str(tmp_path / "gt"),
                "--report", str(report))
    err = capsys.readouterr().err
    assert code == 2
    assert "no frame found its ground truth" in err and "timestamps mismatch" in err
    assert json.loads((report / "metrics.json").read_text())["labelled"] is False


def test_ctrl_c_leaves_a_valid_bag_and_partial_metrics(tmp_path: Path, predictor) -> None:
    # A shell that starts the test run in the background ignores SIGINT; Ctrl-C at a terminal
    # raises KeyboardInterrupt, which is what this test is about.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _replay_interrupted(tmp_path, predictor)
    finally:
        signal.signal(signal.SIGINT, previous)


def _replay_interrupted(tmp_path: Path, predictor) -> None:
    write_bag(tmp_path / "in", 10)

    def press_ctrl_c(record: FrameRecord) -> None:
        if record.index == 3:
            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT, delivered to the main thread

    out = tmp_path / "out"
    result = replay(predictor, ReplayOptions(
        bag=tmp_path / "in", image_topic="/camera/image_raw", out=out,
        label_topic="/camera/labels", progress=False), on_frame=press_ctrl_c)
    # Frames already predicted when Ctrl-C came (at most the queue depth + 1) are still written.
    assert result.interrupted and 4 <= result.frames <= 7
    assert f"interrupted after {result.frames} frames" in (result.stopped or "")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    stamps = [m.stamp_ns for m in read_arrays(out, SEG)]
    assert stamps == [START + i * STEP for i in range(result.frames)]
    assert result.last_stamp_ns == stamps[-1]
    doc = write_report(tmp_path / "report", result.evaluation, facts=result.facts())
    assert doc["frames"] == result.frames
    assert doc["run"]["stopped_early"].startswith("interrupted")
