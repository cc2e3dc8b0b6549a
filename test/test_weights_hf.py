"""Hugging Face `Dinov2Model` folders -> identical encoder tensors; mismatches are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from weights_fixtures import assert_same_encoder, random_dinov2, tiny_config

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.weight_keys import canonical_hf_key
from uncertainty_seg_node.model.weights import load_encoder_weights


def test_save_pretrained_folder_loads_to_identical_tensors(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(), seed=11)
    source.save_pretrained(tmp_path / "dinov2-tiny")
    model = build_segmenter(tiny_config())
    report = load_encoder_weights(model, tmp_path / "dinov2-tiny")
    assert report["format"] == "hf_folder" and report["files"] == ["model.safetensors"]
    assert report["loaded"] == len(source.state_dict()) and report["missing"] == []
    assert_same_encoder(model, source)


def test_hub_names_sharded_and_bin_folders(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(), seed=12)
    folder = tmp_path / "hub"
    source.save_pretrained(folder)
    # Files on the Hub use the legacy names (attention.attention.query, attention.output.dense)
    # and a `dinov2.` prefix inside Dinov2ForImageClassification; shard them in two.
    state = load_file(str(folder / "model.safetensors"))
    legacy = {}
    for key, value in state.items():
        key = canonical_hf_key(key)
        for new, old in (
            ("attention.q_proj.", "attention.attention.query."),
            ("attention.k_proj.", "attention.attention.key."),
            ("attention.v_proj.", "attention.attention.value."),
            ("attention.o_proj.", "attention.output.dense."),
        ):
            key = key.replace(new, old)
        legacy["dinov2." + key] = value.contiguous()
    legacy["classifier.weight"] = torch.zeros(2, 192)
    (folder / "model.safetensors").unlink()
    keys = sorted(legacy)
    half = len(keys) // 2
    shards = {
        "model-00001-of-00002.safetensors": keys[:half],
        "model-00002-of-00002.safetensors": keys[half:],
    }
    for name, names in shards.items():
        save_file({k: legacy[k] for k in names}, str(folder / name))
    index = {"weight_map": {k: name for name, names in shards.items() for k in names}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))

    model = build_segmenter(tiny_config())
    report = load_encoder_weights(model, folder)
    assert len(report["files"]) == 2 and report["skipped"] == ["classifier.weight"]
    assert_same_encoder(model, source)

    bin_folder = tmp_path / "bin"
    source.save_pretrained(bin_folder)
    (bin_folder / "model.safetensors").unlink()
    torch.save(source.state_dict(), bin_folder / "pytorch_model.bin")
    fresh = build_segmenter(tiny_config())
    assert load_encoder_weights(fresh, bin_folder)["files"] == ["pytorch_model.bin"]
    assert_same_encoder(fresh, source)


def test_folder_mismatches_are_refused(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(), seed=13)
    folder = tmp_path / "m"
    source.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    model = build_segmenter(tiny_config())

    def write(**changes: object) -> None:
        (folder / "config.json").write_text(json.dumps({**config, **changes}))

    write(hidden_size=384, num_hidden_layers=12, num_attention_heads=6)
    with pytest.raises(UserError, match=r"ViT-S/14 \(384-d, 12 blocks\).*use --model vits14"):
        load_encoder_weights(model, folder)
    write(num_attention_heads=4)
    with pytest.raises(UserError, match="4 heads"):
        load_encoder_weights(model, folder)
    write(model_type="dinov2_with_registers")
    with pytest.raises(UserError, match="register tokens"):
        load_encoder_weights(model, folder)
    write(model_type="vit")
    with pytest.raises(UserError, match="not a DINOv2"):
        load_encoder_weights(model, folder)
    write(patch_size=16)
    with pytest.raises(UserError, match="16-pixel patches"):
        load_encoder_weights(model, folder)
    write()
    (folder / "model.safetensors").unlink()
    with pytest.raises(UserError, match="no weights"):
        load_encoder_weights(model, folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        load_encoder_weights(model, folder)
    (folder / "config.json").unlink()
    with pytest.raises(UserError, match="without config.json"):
        load_encoder_weights(model, folder)
