from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from uncertainty_seg_node.config import ModelConfig, load_yaml_config, parse_size
from uncertainty_seg_node.errors import UserError


@dataclass
class _Demo:
    lr: float = 1e-3
    steps: int = 10
    size: tuple[int, int] = (1, 2)


def test_yaml_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.5\nsize: [3, 4]\n")
    cfg = load_yaml_config(_Demo, path, ["steps=7"])
    assert cfg == _Demo(lr=0.5, steps=7, size=(3, 4))


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("learning_rate: 0.5\n")
    with pytest.raises(UserError, match="unknown _Demo key.*learning_rate"):
        load_yaml_config(_Demo, path)
    with pytest.raises(UserError, match="key=value"):
        load_yaml_config(_Demo, None, ["steps"])


def test_model_config_json_round_trip() -> None:
    cfg = ModelConfig(input_size=(28, 42), default_gamma=0.9, provenance={"a": [1, 2]})
    assert ModelConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("text", ["224", "ax3", "0x14", "-14x14"])
def test_parse_size_errors(text: str) -> None:
    with pytest.raises(UserError):
        parse_size(text)
    assert parse_size("224x448") == (224, 448)
