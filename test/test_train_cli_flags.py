"""`train`'s yes/no flags turn a recipe's value either way, and the resolved config is shown.

A recipe (e.g. config/train_task_vits14.yaml) sets freeze_encoder, augment and cache_features;
the plain flags `--no-freeze-encoder --augment --no-cache-features` must undo them (not only
`--set key=false`), neither flag keeps the recipe's value, and the config a run used is printed
at its start and written beside the checkpoint as YAML that `--config` reads back.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from _train_fixtures import write_labelled

from uncertainty_seg_node.cli.main import build_parser, main
from uncertainty_seg_node.model.checkpoint import load_checkpoint

TASK = ["train", "task", "--data", "d", "--out", "o.pt", "--model", "vits14"]
UNC = ["train", "uncertainty", "--data", "d", "--out", "o.pt", "--model", "vits14",
       "--teacher", "t.pt", "--unlabelled", "u"]


def _args(argv: list[str]) -> argparse.Namespace:
    return build_parser(argv).parse_args(argv)


def _resolved(argv: list[str]) -> Any:
    args = _args(argv)  # before the fix: `unrecognized arguments: --no-freeze-encoder`
    from uncertainty_seg_node.cli.train import resolved_config

    return resolved_config(args)[0]


def test_without_a_flag_the_recipe_holds() -> None:
    task, unc = _resolved(TASK), _resolved(UNC)
    assert task.freeze_encoder and task.augment and task.photometric and task.cache_features
    assert task.view_bank_size == unc.view_bank_size > 0
    assert unc.init_decoder_from_teacher and unc.freeze_encoder


@pytest.mark.parametrize(("base", "flag", "key", "value"), [
    (TASK, "--no-freeze-encoder", "freeze_encoder", False),
    (TASK, "--augment", "augment", True),
    (TASK, "--no-cache-features", "cache_features", False),
    (UNC, "--no-init-decoder-from-teacher", "init_decoder_from_teacher", False),
    (UNC, "--no-freeze-encoder", "freeze_encoder", False),
    (TASK, "--no-augment", "augment", False),
    (TASK, "--freeze-encoder", "freeze_encoder", True),
])
def test_a_plain_flag_turns_a_recipe_boolean_either_way(
        base: list[str], flag: str, key: str, value: bool) -> None:
    assert getattr(_resolved([*base, flag]), key) is value
    # and the same through --set, which the flag beats
    opposite = "true" if not value else "false"
    assert getattr(_resolved([*base, "--set", f"{key}={opposite}", flag]), key) is value


def test_fine_tuning_the_whole_encoder_needs_only_plain_flags() -> None:
    config = _resolved([*TASK, "--no-freeze-encoder", "--augment", "--no-cache-features"])
    config.validate()  # no cache left that would need a frozen encoder or fixed inputs
    assert not config.freeze_encoder and config.augment and not config.uses_feature_cache


def test_the_error_for_a_cache_left_on_says_how_to_turn_it_off() -> None:
    config = _resolved([*TASK, "--no-freeze-encoder", "--augment"])
    from uncertainty_seg_node.errors import UserError

    with pytest.raises(UserError, match="--no-cache-features"):
        config.validate()


def test_the_recorded_command_gives_the_same_config() -> None:
    argv = [*UNC, "--no-freeze-encoder", "--augment", "--no-cache-features", "--quiet",
            "--no-init-decoder-from-teacher", "--steps", "3", "--set", "lr=0.01"]
    config = _resolved(argv)
    words = config.command
    assert words[:3] == ["uncertainty-seg", "train", "uncertainty"]
    again = _resolved(words[1:])
    assert again.to_dict() == config.to_dict()
    assert "--no-freeze-encoder" in words and "--augment" in words, shlex.join(words)


def test_a_run_prints_its_config_and_writes_it_beside_the_checkpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_labelled(tmp_path / "data", 2, size=(28, 28))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: tiny\nfreeze_encoder: true\naugment: false\n"
                      "cache_features: true\nsteps: 50\nwarmup_steps: 0\n")
    out = tmp_path / "run" / "theta.pt"
    code = main(["train", "task", "--data", str(data), "--config", str(recipe), "--size",
                 "28x28", "--batch-size", "1", "--steps", "1", "--out", str(out),
                 "--no-freeze-encoder", "--augment", "--no-cache-features"])
    assert code == 0
    shown = capsys.readouterr().out
    assert "resolved config" in shown
    for line in ("freeze_encoder: false  (flag)", "augment: true  (flag)",
                 "cache_features: false  (flag)", "steps: 1  (flag)",
                 "model: tiny  (recipe recipe.yaml)"):
        assert line in shown, shown
    saved = out.with_name("theta.config.yaml")
    values = yaml.safe_load(saved.read_text())
    assert values["freeze_encoder"] is False and values["augment"] is True
    assert values["steps"] == 1 and values["size"] == [28, 28]
    stored = load_checkpoint(out).config.provenance["train_config"]
    assert stored["freeze_encoder"] is False and stored["augment"] is True
    # the written file reruns with the same values
    again = _resolved(["train", "task", "--config", str(saved), "--data", str(data),
                       "--out", str(out)])
    assert {k: v for k, v in again.to_dict().items() if k != "command"} == {
        k: (tuple(v) if k == "size" else v) for k, v in stored.items() if k != "command"}
