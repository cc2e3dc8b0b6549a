"""Official DINOv2 `.pth` and Hugging Face state-dict files -> identical encoder tensors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from weights_fixtures import assert_same_encoder, random_dinov2, tiny_config

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.model import build_segmenter
from uncertainty_seg_node.model.checkpoint import save_checkpoint
from uncertainty_seg_node.model.weights import load_encoder_weights
from uncertainty_seg_node.model.weights_pth import to_official_state_dict


def test_official_layout_loads_to_identical_tensors(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(), seed=3)
    official = to_official_state_dict(source.state_dict())
    assert "blocks.1.attn.qkv.weight" in official and "blocks.1.ls2.gamma" in official
    assert official["blocks.1.attn.qkv.weight"].shape == (3 * 96, 96)
    official["head.weight"] = torch.zeros(3)  # a classifier head is reported, not loaded
    torch.save(official, tmp_path / "dinov2_tiny.pth")

    model = build_segmenter(tiny_config())
    report = load_encoder_weights(model, tmp_path / "dinov2_tiny.pth")
    assert report["format"] == "torch" and report["layout"] == "dinov2"
    assert report["loaded"] == len(source.state_dict())
    assert report["missing"] == [] and report["skipped"] == ["head.weight"]
    assert model.config.provenance["encoder_init"]["layout"] == "dinov2"
    assert_same_encoder(model, source, batch=2, seed=1)


def test_fsdp_chunked_teacher_checkpoint(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(), seed=4)
    chunked = {}
    for key, value in to_official_state_dict(source.state_dict()).items():
        if key.startswith("blocks."):
            index = int(key.split(".")[1])
            key = f"blocks.{index // 2}.{key[len('blocks.') :]}"  # chunks of 2: blocks.C.N.*
        chunked[f"teacher.backbone.{key}"] = value
        chunked[f"student.backbone.{key}"] = torch.zeros_like(value)
    chunked["teacher.dino_head.mlp.0.weight"] = torch.zeros(4, 4)
    torch.save({"model": chunked, "iteration": 7}, tmp_path / "model_0000007.rank_0.pth")

    model = build_segmenter(tiny_config())
    report = load_encoder_weights(model, tmp_path / "model_0000007.rank_0.pth")
    assert "teacher.dino_head.mlp.0.weight" in report["skipped"]
    assert_same_encoder(model, source, batch=2, seed=1)


def test_hf_state_dict_files_and_own_checkpoint(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(), seed=5)
    torch.save(source.state_dict(), tmp_path / "hf.bin")
    model = build_segmenter(tiny_config())
    assert load_encoder_weights(model, tmp_path / "hf.bin")["layout"] == "hf"
    assert_same_encoder(model, source, batch=2, seed=1)

    # A checkpoint of this package initialises another model's encoder (its decoder is skipped).
    path = save_checkpoint(tmp_path / "trained.pt", model, {"step": 1, "note": object.__name__})
    fresh = build_segmenter(tiny_config())
    report = load_encoder_weights(fresh, path)
    assert any(k.startswith("decoder.") for k in report["skipped"])
    assert_same_encoder(fresh, source, batch=2, seed=1)


def test_position_grid_of_the_source_is_kept(tmp_path: Path) -> None:
    source = random_dinov2(tiny_config(num_pos_patches=5), seed=6)
    torch.save(to_official_state_dict(source.state_dict()), tmp_path / "grid5.pth")
    model = build_segmenter(tiny_config())
    assert model.config.num_pos_patches == 37
    report = load_encoder_weights(model, tmp_path / "grid5.pth")
    assert report["pos_grid"] == [37, 5]
    assert model.config.num_pos_patches == 5  # so a saved checkpoint rebuilds the same shape
    assert_same_encoder(model, source, batch=2, seed=1)

    bad = to_official_state_dict(source.state_dict())
    bad["pos_embed"] = bad["pos_embed"][:, :-1]  # 24 patch positions: not a square grid
    torch.save(bad, tmp_path / "bad_grid.pth")
    with pytest.raises(UserError, match="not a square grid"):
        load_encoder_weights(build_segmenter(tiny_config()), tmp_path / "bad_grid.pth")


def test_wrong_size_names_the_model_to_use(tmp_path: Path) -> None:
    # The size check runs on shapes first, so a sparse ViT-B/14-shaped dict is enough.
    vitb = {
        "cls_token": torch.zeros(1, 1, 768),
        "pos_embed": torch.zeros(1, 1370, 768),
        "patch_embed.proj.weight": torch.zeros(768, 3, 14, 14),
    }
    vitb.update({f"blocks.{i}.norm1.weight": torch.ones(768) for i in range(12)})
    torch.save(vitb, tmp_path / "vitb.pth")
    with pytest.raises(UserError, match=r"ViT-B/14 \(768-d, 12 blocks\).*use --model vitb14"):
        load_encoder_weights(build_segmenter(tiny_config()), tmp_path / "vitb.pth")

    source = random_dinov2(tiny_config(), seed=7)
    torch.save(to_official_state_dict(source.state_dict()), tmp_path / "tiny.pth")
    two_blocks = build_segmenter(tiny_config(num_layers=2))
    with pytest.raises(UserError, match="96-d, 4 blocks.*use --model tiny"):
        load_encoder_weights(two_blocks, tmp_path / "tiny.pth")


def test_bad_inputs_give_one_line_user_errors(tmp_path: Path) -> None:
    model = build_segmenter(tiny_config())
    with pytest.raises(UserError, match="do not exist"):
        load_encoder_weights(model, tmp_path / "absent.pth")
    (tmp_path / "garbage.pth").write_bytes(b"\x00not a pickle" * 50)
    with pytest.raises(UserError, match="corrupt"):
        load_encoder_weights(model, tmp_path / "garbage.pth")
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(UserError, match="not a state dict"):
        load_encoder_weights(model, tmp_path / "list.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "resnet.pth")
    with pytest.raises(UserError, match="no cls_token"):
        load_encoder_weights(model, tmp_path / "resnet.pth")

    official = to_official_state_dict(random_dinov2(tiny_config(), seed=8).state_dict())
    registers = dict(official, register_tokens=torch.zeros(1, 4, 96))
    torch.save(registers, tmp_path / "reg.pth")
    with pytest.raises(UserError, match="4 register tokens"):
        load_encoder_weights(model, tmp_path / "reg.pth")
    del official["blocks.2.mlp.fc2.weight"]
    official["pos_embed"] = official["pos_embed"][:, :17]  # a 4x4 grid, as an export might have
    torch.save(official, tmp_path / "partial.pth")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError, match=r"lacks 1 encoder tensor.*layer\.2\.mlp\.fc2\.weight"):
        load_encoder_weights(model, tmp_path / "partial.pth")
    assert model.config.num_pos_patches == 37  # a refused file leaves the model untouched
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    truncated = tmp_path / "truncated.pth"
    torch.save(to_official_state_dict(random_dinov2(tiny_config()).state_dict()), truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    with pytest.raises(UserError, match="corrupt"):
        load_encoder_weights(model, truncated)
    (tmp_path / "bad.safetensors").write_bytes(b"nonsense")
    with pytest.raises(UserError, match="corrupt or not a safetensors"):
        load_encoder_weights(model, tmp_path / "bad.safetensors")
