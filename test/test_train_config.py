"""TrainConfig loading, the lr schedule and the optimiser's parameter groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from uncertainty_seg_node.config import model_config_for
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.train.config import (
    TrainConfig,
    default_config_path,
    resolve_train_config,
)
from uncertainty_seg_node.train.loop import build_optimizer, lr_factor


def _load(*args: Any) -> TrainConfig:
    return resolve_train_config(*args)[0]


@pytest.mark.parametrize("mode", ["task", "uncertainty"])
def test_default_yaml_files_load_and_are_found(mode: str, repo_root: Path) -> None:
    path = default_config_path(mode)
    assert path == repo_root / "config" / f"train_{mode}.yaml"
    config = _load(mode)
    assert config.mode == mode
    assert config.certainty_from == "unmasked" and config.p_mask == 0.5 and config.sharpen_T == 0.5


def test_precedence_yaml_then_set_then_flags(tmp_path: Path) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("steps: 7\nlr: 0.01\nbatch_size: 3\n")
    config = _load(
        "uncertainty", yaml_file, ["lr=0.002", "size=56x112", "certainty_from=masked"],
        {"batch_size": 5, "seed": None},
    )
    assert config.steps == 7  # from the file
    assert config.lr == 0.002  # --set beats the file
    assert config.batch_size == 5  # a flag beats both
    assert config.seed == 0  # a flag left at None does not override
    assert config.size == (56, 112) and config.certainty_from == "masked"


def test_unknown_key_is_a_one_line_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown TrainConfig key") as info:
        _load("task", None, ["learning_rate=0.1"])
    assert "\n" not in str(info.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("p_masked: 0.3\n")
    with pytest.raises(UserError, match="p_masked"):
        _load("uncertainty", bad)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"data": ""}, "--data"),
        ({"out": ""}, "--out"),
        ({"teacher": None}, "--teacher"),
        ({"unlabelled": None}, "--unlabelled"),
        ({"p_mask": 1.5}, "p_mask"),
        ({"certainty_from": "both"}, "certainty_from"),
        ({"steps": 0}, "steps"),
        ({"schedule": "step"}, "schedule"),
        ({"model": "resnet"}, "unknown model"),
    ],
)
def test_validate_names_the_problem(change: dict[str, object], message: str) -> None:
    config = TrainConfig(mode="uncertainty", data="d", out="o.pt", teacher="t.pt", unlabelled="u")
    config.validate()
    for key, value in change.items():
        setattr(config, key, value)
    with pytest.raises(UserError, match=message):
        config.validate()


def test_lr_schedule_warmup_then_decay() -> None:
    config = TrainConfig(steps=100, warmup_steps=10, schedule="cosine", min_lr_ratio=0.0)
    factors = [lr_factor(s, config) for s in range(100)]
    assert factors[0] < factors[5] < factors[9] <= 1.0  # warmup rises
    assert factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))  # then never rises
    assert factors[-1] < 0.01
    poly = TrainConfig(steps=100, warmup_steps=0, schedule="poly", min_lr_ratio=0.1)
    assert lr_factor(0, poly) == pytest.approx(1.0)
    assert lr_factor(100, poly) == pytest.approx(0.1)
    short = TrainConfig(steps=10, warmup_steps=50)  # warmup capped at a fifth of the run
    assert lr_factor(2, short) == pytest.approx(1.0, abs=0.01)


def test_optimizer_gives_the_encoder_a_lower_lr_and_skips_frozen_params() -> None:
    model = build_segmenter(model_config_for("tiny", input_size=(56, 112)))
    config = TrainConfig(lr=1e-3, init="weights.pth")  # pretrained init -> encoder at 0.1x
    groups = {g["name"]: g for g in build_optimizer(model, config).param_groups}
    assert groups["encoder"]["lr"] == pytest.approx(1e-4)
    assert groups["decoder"]["lr"] == pytest.approx(1e-3)
    assert groups["encoder/no_decay"]["weight_decay"] == 0.0
    assert TrainConfig(lr=1e-3).encoder_lr() == pytest.approx(1e-3)  # from scratch: same lr
    for param in model.encoder.parameters():
        param.requires_grad_(False)
    names = {g["name"] for g in build_optimizer(model, config).param_groups}
    assert names == {"decoder", "decoder/no_decay"}


@pytest.mark.parametrize("item", ["steps=abc", "lr=fast", "freeze_encoder=3", "size=[1]"])
def test_wrong_value_types_are_user_errors(item: str) -> None:
    config = _load("task", None, [item, "data=d", "out=o.pt"])
    with pytest.raises(UserError):
        config.validate()


@pytest.mark.parametrize("mode", ["task", "uncertainty"])
def test_vits14_gets_its_recipe_and_flags_still_override(mode: str, repo_root: Path) -> None:
    import yaml

    recipe = repo_root / "config" / f"train_{mode}_vits14.yaml"
    assert default_config_path(mode, "vits14") == recipe
    assert default_config_path(mode, "tiny") == repo_root / "config" / f"train_{mode}.yaml"
    values = yaml.safe_load(recipe.read_text())
    for how in ({"flags": {"model": "vits14"}}, {"overrides": ["model=vits14"]}):
        config = _load(mode, None, how.get("overrides"), how.get("flags"))
        for key, value in values.items():
            got = getattr(config, key)
            assert (list(got) if isinstance(got, tuple) else got) == value, key
    config = _load(mode, None, ["lr=0.5"], {"model": "vits14", "steps": 3})
    assert config.steps == 3 and config.lr == 0.5  # flags and --set still win
    tiny = _load(mode, None, None, {"model": "tiny"})
    assert tiny.steps == yaml.safe_load(
        (repo_root / "config" / f"train_{mode}.yaml").read_text())["steps"]
    assert tiny.steps != values["steps"] or tiny.batch_size != values.get("batch_size")


def test_train_blocks_flag_beats_the_recipes_frozen_encoder() -> None:
    config = _load("uncertainty", None, None, {"model": "vits14", "train_blocks": 2})
    assert config.train_blocks == 2 and not config.freeze_encoder
    assert _load("task", None, None, {"model": "vits14"}).freeze_encoder
