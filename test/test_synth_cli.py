"""`uncertainty-seg synth`: folders and bags as the contract writes them, and its errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from uncertainty_seg_node.bags import list_topics, read_images, read_mono, read_strings
from uncertainty_seg_node.bags.topics import DEFAULT_START_NS
from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.synth import domain_names, render_drive, render_frames


def test_list_prints_the_domains_source_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--list"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines == domain_names() and lines[0] == "city-day" and len(lines) >= 6


def test_folder_is_cityscapes_format(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    assert main(["synth", "--domain", "rural", "--count", "3", "--size", "40x80", "--seed", "5",
                 "--out", str(out)]) == 0
    images = sorted((out / "leftImg8bit" / "train" / "rural").glob("*_leftImg8bit.png"))
    assert [p.name for p in images] == [f"rural_{i:06d}_000000_leftImg8bit.png" for i in range(3)]
    expected = list(render_frames("rural", 3, (40, 80), 5))
    for path, frame in zip(images, expected):
        stem = path.name[: -len("_leftImg8bit.png")]
        gt = out / "gtFine" / "train" / "rural"
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        labels = cv2.imread(str(gt / f"{stem}_gtFine_labelTrainIds.png"), cv2.IMREAD_UNCHANGED)
        anomaly = cv2.imread(str(gt / f"{stem}_anomaly.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(rgb, frame.image)
        assert labels.dtype == np.uint8 and np.array_equal(labels, frame.labels)
        assert np.array_equal(anomaly, frame.anomaly)
    # a second split into the same folder, readable by the data loader
    assert main(["synth", "--domain", "fog", "--count", "2", "--size", "40x80", "--seed", "6",
                 "--out", str(out), "--split", "val"]) == 0
    from uncertainty_seg_node.data import open_labelled

    val = open_labelled(out, split="val")
    assert len(val) == 2
    sample = val[0]
    assert sample.image.shape == (40, 80, 3) and sample.anomaly is not None


@pytest.mark.parametrize(("storage", "compressed"), [("mcap", False), ("sqlite3", True)])
def test_bag_is_a_coherent_drive(tmp_path: Path, storage: str, compressed: bool) -> None:
    bag = tmp_path / "drive"
    args = ["synth", "--domain", "city-day,night", "--count", "4", "--size", "40x80", "--seed",
            "2", "--bag", str(bag), "--storage", storage, "--rate", "5"]
    assert main(args + (["--compressed"] if compressed else [])) == 0
    image_topic = "/camera/image_raw/compressed" if compressed else "/camera/image_raw"
    assert set(list_topics(bag)) == {image_topic, "/camera/labels", "/camera/anomaly",
                                     "/camera/domain"}
    stamps = [DEFAULT_START_NS + i * 200_000_000 for i in range(4)]
    frames = list(read_images(bag, image_topic))
    assert [f.stamp_ns for f in frames] == stamps and {f.frame_id for f in frames} == {"camera"}
    expected = list(render_drive(["city-day", "night"], 4, (40, 80), 2, rate=5))
    labels = list(read_mono(bag, "/camera/labels"))
    assert all(np.array_equal(a.image, e.labels) for a, e in zip(labels, expected))
    anomaly = list(read_mono(bag, "/camera/anomaly"))
    assert all(np.array_equal(a.image, e.anomaly) for a, e in zip(anomaly, expected))
    if not compressed:
        assert all(np.array_equal(f.image, e.image) for f, e in zip(frames, expected))
    assert [d for _, d in read_strings(bag, "/camera/domain")] == ["city-day"] * 2 + ["night"] * 2


@pytest.mark.parametrize(("args", "message"), [
    (["--domain", "mars", "--out", "X"], "unknown domain 'mars'"),
    (["--domain", "fog", "--size", "3y4", "--out", "X"], "not of the form HxW"),
    (["--domain", "fog", "--count", "0", "--out", "X"], "--count"),
    (["--domain", "fog"], "--out DIR"),
    (["--out", "X"], "--domain is required"),
    (["--domain", "fog", "--out", "X", "--compressed"], "--compressed applies to --bag"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               args: list[str], message: str) -> None:
    args = [str(tmp_path / a) if a == "X" else a for a in args]
    assert main(["synth", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_folder_sequence_is_one_drive(tmp_path: Path) -> None:
    out = tmp_path / "seq"
    assert main(["synth", "--domain", "city-day,snow", "--count", "4", "--size", "32x64",
                 "--seed", "1", "--out", str(out), "--sequence", "--split", "val"]) == 0
    names = sorted(p.name for p in (out / "leftImg8bit" / "val").rglob("*_leftImg8bit.png"))
    assert names == ["city-day_000000_000000_leftImg8bit.png",
                     "city-day_000000_000001_leftImg8bit.png",
                     "snow_000000_000002_leftImg8bit.png", "snow_000000_000003_leftImg8bit.png"]


def test_training_on_synthetic_folders_is_recorded(tmp_path: Path) -> None:
    """The folder says it is synthetic; the provenance of a run on it says so (node: a WARN)."""
    from uncertainty_seg_node.model.description import describe_model
    from uncertainty_seg_node.synth.writers import SYNTHETIC_MARKER, write_folder
    from uncertainty_seg_node.train.config import TrainConfig
    from uncertainty_seg_node.train.provenance import provenance

    source, unlabelled, real = tmp_path / "data" / "source", tmp_path / "unl", tmp_path / "real"
    assert write_folder(render_frames("city-day", 1, (28, 56), 1), source) == 1
    assert write_folder(render_frames("fog", 1, (28, 56), 2), unlabelled) == 1
    assert (source / SYNTHETIC_MARKER).is_file()
    real.mkdir()

    def record(data: Path, target: Path | None) -> dict[str, object]:
        config = TrainConfig(mode="uncertainty", data=str(data),
                             unlabelled=str(target) if target else None)
        return provenance(config, step=1, world=1, device="cpu", wall_s=0.0)

    synthetic = record(source, unlabelled / "leftImg8bit")  # a subfolder, as the script passes
    assert synthetic["synthetic"] is True
    assert "synthetic" not in record(source, real) and "synthetic" not in record(real, None)
    from uncertainty_seg_node.config import model_config_for

    config = model_config_for("tiny")
    config.provenance = synthetic
    assert describe_model(config).synthetic_only  # whatever the folders are called:
    assert not describe_model(model_config_for("tiny", provenance={"data": str(source)})
                              ).synthetic_only  # by its path alone, this one is not
