"""`uncertainty-seg train task`: real small runs whose assertions can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _train_fixtures import write_labelled

from uncertainty_seg_node.cli.main import main
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.train import TrainConfig, train_task
from uncertainty_seg_node.train.train_log import log_paths, read_log


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_labelled(tmp_path_factory.mktemp("src"), 4)


def test_loss_decreases_on_four_images(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "theta.pt"
    code = main(["train", "task", "--data", str(source), "--model", "tiny", "--size", "56x112",
                 "--steps", "30", "--out", str(out), "--batch-size", "2", "--lr", "1e-3",
                 "--set", "warmup_steps=2", "--quiet"])
    assert code == 0
    rows = read_log(out)
    assert [r["step"] for r in rows] == list(range(1, 31))
    first = sum(r["loss"] for r in rows[:3]) / 3
    last = sum(r["loss"] for r in rows[-3:]) / 3
    assert last < 0.5 * first, (first, last)
    assert rows[-1]["source_miou"] > rows[0]["source_miou"] + 0.3
    # Self-describing checkpoint: the dataset's classes and palette, provenance, train state.
    ckpt = load_checkpoint(out)
    assert ckpt.config.class_names == ("sky", "road", "car")
    assert ckpt.config.palette[1] == (128, 64, 128)
    assert ckpt.config.input_size == (56, 112)
    prov = ckpt.config.provenance
    assert prov["stage"] == "task" and prov["steps"] == 30 and prov["seed"] == 0
    assert prov["data"] == str(source.resolve()) and "train task" in prov["command"]
    assert ckpt.train_state["step"] == 30
    _, csv_path = log_paths(out)
    header = csv_path.read_text().splitlines()[0].split(",")
    assert header[:2] == ["step", "loss"] and "source_miou" in header
    json.dumps(ckpt.config.provenance)  # stays JSON


def test_frozen_encoder_and_dropout_baselines(source: Path, tmp_path: Path) -> None:
    config = TrainConfig(data=str(source), out=str(tmp_path / "estar.pt"), size=(56, 112),
                         steps=3, batch_size=2, freeze_encoder=True, dropout=0.2, quiet=True)
    result = train_task(config)
    torch.manual_seed(0)  # the same seed rebuilds the same initial encoder
    from uncertainty_seg_node.model.segmenter import Segmenter

    initial = Segmenter(result.model.config).encoder.state_dict()
    for name, value in result.model.encoder.state_dict().items():
        torch.testing.assert_close(value, initial[name], msg=name)
    assert result.model.config.dropout == 0.2
    assert load_checkpoint(config.out).config.dropout == 0.2


def test_seeds_give_different_ensemble_members(source: Path, tmp_path: Path) -> None:
    weights = []
    for seed in (0, 1):
        config = TrainConfig(data=str(source), out=str(tmp_path / f"m{seed}.pt"), size=(56, 112),
                             steps=1, batch_size=1, seed=seed, quiet=True)
        weights.append(train_task(config).model.decoder.classifier.weight.detach())
    assert (weights[0] - weights[1]).abs().max() > 1e-3


def test_init_loads_encoder_weights_and_records_them(source: Path, tmp_path: Path) -> None:
    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.model.segmenter import Segmenter

    torch.manual_seed(123)
    pretrained = Segmenter(model_config_for("tiny", input_size=(56, 112)))
    folder = tmp_path / "hf_dinov2"
    pretrained.encoder.vit.save_pretrained(folder)
    config = TrainConfig(data=str(source), out=str(tmp_path / "init.pt"), size=(56, 112),
                         steps=1, batch_size=1, lr=1e-12, init=str(folder), quiet=True)
    result = train_task(config)
    got = result.model.encoder.state_dict()
    for name, value in pretrained.encoder.state_dict().items():
        torch.testing.assert_close(got[name], value, msg=name)
    prov = load_checkpoint(config.out).config.provenance
    assert "encoder_init" in prov and prov["init"] == str(folder.resolve())
