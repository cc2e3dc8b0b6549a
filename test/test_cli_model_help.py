"""Every option that reads a trained model says, in `--help`, that a delta file works there.

Delta files (`.delta.safetensors`: what training changed over a pretrained backbone) are the
shipped models, so a user reading `--help` must not conclude that only .pt/.onnx files work.
"""

from __future__ import annotations

import argparse

import pytest

from uncertainty_seg_node.cli.main import build_parser

# (subcommand words, option) of every option that reads a trained model
MODEL_OPTIONS = [
    (["evaluate"], "--model"), (["replay"], "--model"), (["compare"], "--model"),
    (["compare"], "--baseline"), (["calibrate"], "--model"), (["rank-frames"], "--model"),
    (["bench"], "--model"), (["quantize"], "--model"),
    (["train", "uncertainty"], "--teacher"), (["train", "task"], "--init"),
    (["train", "uncertainty"], "--init"),
]


def _option(words: list[str], flag: str) -> argparse.Action:
    parser = build_parser(words)
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return next(a for a in parser._actions if flag in a.option_strings)


@pytest.mark.parametrize(("words", "flag"), MODEL_OPTIONS)
def test_the_help_of_a_model_option_names_delta_files(words: list[str], flag: str) -> None:
    assert "delta" in (_option(words, flag).help or ""), f"{' '.join(words)} {flag}"
