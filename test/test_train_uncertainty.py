"""`uncertainty-seg train uncertainty` end to end, its gamma bookkeeping, and CLI errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _train_fixtures import write_labelled, write_unlabelled

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.train import TrainConfig, train_task, train_uncertainty
from uncertainty_seg_node.train.train_log import read_log


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("unc")
    source = write_labelled(root / "src", 4)
    target = write_unlabelled(root / "tgt", 4)
    teacher = root / "theta.pt"
    train_task(TrainConfig(data=str(source), out=str(teacher), size=(56, 112), steps=4,
                           batch_size=2, lr=1e-3, warmup_steps=1, quiet=True))
    return {"source": source, "target": target, "teacher": teacher, "root": root}


def _ema(gammas: list[float], decay: float) -> float:
    acc = 0.0
    for g in gammas:
        acc = decay * acc + (1 - decay) * g
    return acc / (1 - decay ** len(gammas))


def test_train_uncertainty_end_to_end(world: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "phi.pt"
    teacher_before = load_checkpoint(world["teacher"]).model.state_dict()
    code = main([
        "train", "uncertainty", "--teacher", str(world["teacher"]), "--data", str(world["source"]),
        "--unlabelled", str(world["target"]), "--model", "tiny", "--size", "56x112",
        "--steps", "6", "--out", str(out), "--batch-size", "2", "--set", "gamma_ema_decay=0.9",
        "--quiet",
    ])
    assert code == 0
    rows = read_log(out)
    assert len(rows) == 6
    n_pixels = 2 * 56 * 112
    for row in rows:
        # gamma is the consistency-fraction quantile: certain fraction == consistent fraction
        # to one pixel. Certainty is strict (confidence > gamma), so ties at gamma (float32
        # max-softmax saturates near 1 when almost every pixel is consistent) can only make
        # FEWER pixels certain, never more; the brute-force tests in test_losses_consistency
        # check the exact quantile on tie-free inputs.
        one = 1.0 / n_pixels + 1e-6
        assert row["certain_fraction"] <= row["consistency_rate"] + one
        assert row["certain_fraction"] >= row["consistency_rate"] - 0.002
        assert 0.0 < row["gamma"] < 1.0
        assert row["loss"] == pytest.approx(row["loss_sup"] + row["loss_c"], rel=1e-4, abs=1e-5)
        assert 0.2 < row["masked_fraction"] < 0.8
    ckpt = load_checkpoint(out)
    expected = _ema([r["gamma"] for r in rows], 0.9)
    assert ckpt.config.default_gamma == pytest.approx(expected, rel=1e-4)
    assert rows[-1]["gamma_ema"] == pytest.approx(expected, rel=1e-4)
    prov = ckpt.config.provenance
    assert prov["stage"] == "uncertainty" and prov["final_gamma_ema"] == pytest.approx(expected)
    assert prov["teacher"] == str(world["teacher"].resolve())
    assert prov["unlabelled_images"] == 4 and prov["teacher_provenance"]["stage"] == "task"
    # f_theta stays frozen: its file is untouched and its weights are what they were.
    after = load_checkpoint(world["teacher"]).model.state_dict()
    for name, value in teacher_before.items():
        torch.testing.assert_close(after[name], value)


def test_masked_certainty_variant_and_init_from_teacher(world: dict[str, Path],
                                                       tmp_path: Path) -> None:
    config = TrainConfig(
        mode="uncertainty", data=str(world["source"]), unlabelled=str(world["target"]),
        teacher=str(world["teacher"]), out=str(tmp_path / "phi_m.pt"), steps=1, batch_size=1,
        certainty_from="masked", init_from_teacher=True, lr=1e-12, quiet=True,
    )
    result = train_uncertainty(config)
    assert result.model.config.input_size == (56, 112)  # taken from the teacher
    teacher = load_checkpoint(world["teacher"]).model
    # lr ~ 0: the encoder is still f_theta's; the decoder is a fresh random one.
    torch.testing.assert_close(result.model.encoder.state_dict()["vit.embeddings.cls_token"],
                               teacher.encoder.state_dict()["vit.embeddings.cls_token"])
    diff = result.model.decoder.classifier.weight - teacher.decoder.classifier.weight
    assert diff.abs().max() > 1e-3
    row = read_log(config.out)[0]
    assert abs(row["certain_fraction"] - row["consistency_rate"]) <= 1.0 / (56 * 112) + 1e-6


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err and err[-1].startswith("error: "), err
    assert "Traceback" not in "\n".join(err)
    return err[-1]


def test_bad_input_gives_one_line_errors(world: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "uncertainty", "--data", str(world["source"]), "--unlabelled",
            str(world["target"]), "--model", "tiny", "--steps", "1", "--out",
            str(tmp_path / "x.pt"), "--quiet"]
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    assert "corrupt" in _error(base + ["--teacher", str(corrupt)], capsys)
    assert "does not exist" in _error(base + ["--teacher", str(tmp_path / "none.pt")], capsys)
    teacher = ["--teacher", str(world["teacher"])]
    assert "input size" in _error(base + teacher + ["--size", "42x84"], capsys)
    assert "unknown TrainConfig key" in _error(base + teacher + ["--set", "foo=1"], capsys)
    missing = ["train", "task", "--data", str(tmp_path / "nope"), "--model", "tiny",
               "--size", "56x112", "--steps", "1", "--out", str(tmp_path / "y.pt")]
    assert "does not exist" in _error(missing, capsys)
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "labels").mkdir()
    (empty / "classes.yaml").write_text((world["source"] / "classes.yaml").read_text())
    assert "error" in _error(["train", "task", "--data", str(empty), "--steps", "1",
                              "--out", str(tmp_path / "z.pt")], capsys)
    empty_target = tmp_path / "no_frames"
    empty_target.mkdir()
    msg = _error(base[:3] + [str(world["source"]), "--unlabelled", str(empty_target)]
                 + base[6:] + teacher, capsys)
    assert "no_frames" in msg


def test_teacher_with_other_classes_is_refused(world: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    other = write_labelled(tmp_path / "other", 1)
    (other / "classes.yaml").write_text(
        (world["source"] / "classes.yaml").read_text().replace("car", "truck")
    )
    msg = _error(["train", "uncertainty", "--teacher", str(world["teacher"]), "--data",
                  str(other), "--unlabelled", str(world["target"]), "--steps", "1",
                  "--out", str(tmp_path / "w.pt")], capsys)
    assert "classes" in msg and "truck" in msg


def test_unlabelled_images_from_a_ros2_bag(world: dict[str, Path], tmp_path: Path) -> None:
    import numpy as np
    from _train_fixtures import scene

    from uncertainty_seg_node.bags.writer import BagWriter

    bag = tmp_path / "drive"
    rng = np.random.default_rng(3)
    with BagWriter(bag, storage="mcap") as writer:
        for i in range(3):
            image, labels = scene(rng, (56, 112), night=True)
            writer.write_image("/camera/image_raw", (i + 1) * 100_000_000, "cam", image, "rgb8")
            writer.write_labels("/camera/labels", (i + 1) * 100_000_000, "cam", labels)
    out = tmp_path / "phi_bag.pt"
    code = main(["train", "uncertainty", "--teacher", str(world["teacher"]), "--data",
                 str(world["source"]), "--unlabelled", str(bag), "--unlabelled-topic",
                 "/camera/image_raw", "--steps", "1", "--batch-size", "1", "--out", str(out),
                 "--quiet"])
    assert code == 0
    prov = load_checkpoint(out).config.provenance
    assert prov["unlabelled_images"] == 3 and prov["unlabelled_topic"] == "/camera/image_raw"
