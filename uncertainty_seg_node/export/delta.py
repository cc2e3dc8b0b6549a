"""A model file holding only what training changed on top of a pretrained backbone.

The ViT-S/14 backbone is 88 MB in fp32 and comes from a wheel (model/backbone.py); a model
trained on it changes the decoder, the mask token and any fine-tuned blocks. Those tensors, the
model's ModelConfig and the backbone's name and SHA-256 make a `.delta.safetensors` file
(safetensors: no pickle), fp16 when the assembled model keeps parity with the fp32 one.

Layout: tensors = Segmenter state-dict entries; metadata (strings) = format, config (JSON),
backbone (BackboneRef JSON), dtype, quantize ("none", or "int8" when the assembled ONNX is to be
int8-quantised: `uncertainty-seg quantize` decides whether that may ship).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.delta_header import FORMAT, read_delta_header
from uncertainty_seg_node.export.parity import ParityReport, compare_outputs, sample_images
from uncertainty_seg_node.model.artifact import file_sha256, portable_value
from uncertainty_seg_node.model.backbone import BackboneRef, backbone_ref_for
from uncertainty_seg_node.model.segmenter import Segmenter

# fp16 ships only if the assembled model keeps to these against the fp32 model.
HALF_MIN_LABEL_AGREEMENT = 0.999
HALF_MAX_CONFIDENCE_DIFF = 1e-2
QUANTIZE_MODES = ("none", "int8")


@dataclass
class ModelDelta:
    """The contents of a delta file."""

    config: ModelConfig
    backbone: BackboneRef
    tensors: dict[str, Tensor]
    dtype: str
    quantize: str = "none"


@dataclass
class PackReport:
    """What `save_delta` wrote."""

    path: Path
    dtype: str
    quantize: str
    tensors: int
    changed_encoder_tensors: int
    encoder_tensors: int
    bytes: int
    half_parity: ParityReport | None


def backbone_segmenter(config: ModelConfig, backbone: Path) -> tuple[Segmenter, set[str]]:
    """A Segmenter of `config` with the encoder read from `backbone` (decoder at init).

    Returns it and the state-dict keys the backbone provided.
    """
    from uncertainty_seg_node.model.weights import load_encoder_weights

    model = Segmenter(copy.deepcopy(config))
    report = load_encoder_weights(model, backbone, verify=False)
    model.config.provenance = copy.deepcopy(config.provenance)
    missing = {f"encoder.vit.{k}" for k in report["missing"]}
    provided = {k for k in model.state_dict() if k.startswith("encoder.vit.") and k not in missing}
    return model.eval(), provided


def changed_tensors(
    model: Segmenter, reference: Segmenter, provided: set[str]
) -> dict[str, Tensor]:
    """The state of `model` a backbone does not give: tensors it lacks, or that differ."""
    ref = reference.state_dict()
    changed = {}
    for key, value in model.state_dict().items():
        if key in provided and key in ref and ref[key].shape == value.shape \
                and torch.equal(ref[key], value):
            continue
        changed[key] = value.detach().cpu().contiguous()
    return changed


def apply_delta(model: Segmenter, tensors: dict[str, Tensor], provided: set[str]) -> None:
    """Load the delta over a backbone-initialised model; refuse a file that does not fit."""
    target = model.state_dict()
    unknown = sorted(k for k in tensors if k not in target)
    absent = sorted(k for k in target if k not in tensors and k not in provided)
    if unknown or absent:
        raise UserError(
            f"the delta file does not fit its own config: unknown tensors {unknown[:3]}, "
            f"tensors neither in it nor in the backbone {absent[:3]}"
        )
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(target[key].shape):
            raise UserError(f"delta tensor {key} has shape {tuple(value.shape)}, the model "
                            f"needs {tuple(target[key].shape)}")
    with torch.no_grad():
        state = {k: v.to(target[k].dtype) for k, v in tensors.items()}
        model.load_state_dict(state, strict=False)


def save_delta(
    model: Segmenter, backbone: Path, out: str | Path, *, half: bool = True,
    parity_images: int = 4, quantize: str = "none",
) -> PackReport:
    """Write `model` as a delta over `backbone` (fp16 if parity holds, else fp32)."""
    if quantize not in QUANTIZE_MODES:
        raise UserError(f"quantize {quantize!r} is not one of {QUANTIZE_MODES}")
    from safetensors.torch import save_file

    ref = backbone_ref_for(backbone, file_sha256(backbone))
    model = model.cpu().eval()
    reference, provided = backbone_segmenter(model.config, backbone)
    changed = changed_tensors(model, reference, provided)
    encoder_changed = sum(1 for k in changed if k in provided)
    parity = None
    dtype = "float32"
    if half:
        halved = {k: v.half() if v.is_floating_point() else v for k, v in changed.items()}
        apply_delta(reference, halved, provided)
        parity = model_parity(model, reference, images=parity_images)
        if parity.passed:
            changed, dtype = halved, "float16"
    # A delta file ships to other machines: no folder of this one in its provenance.
    shipped = dataclasses.replace(model.config,
                                  provenance=portable_value(model.config.provenance))
    metadata = {"format": FORMAT, "config": shipped.to_json(), "backbone": ref.to_json(),
                "dtype": dtype, "quantize": quantize}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(changed, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # a file that ships: readable like any other (mkstemp gives 0600)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return PackReport(out, dtype, quantize, len(changed), encoder_changed, len(provided),
                      out.stat().st_size, parity)


def read_delta(path: str | Path) -> ModelDelta:
    """The config, backbone reference and tensors of a delta file (clear errors otherwise)."""
    from safetensors import SafetensorError, safe_open

    header = read_delta_header(path)  # checks the file and its format first, without torch
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path} is corrupt or not a safetensors file ({exc})") from None
    return ModelDelta(header.config, header.backbone, tensors, header.dtype, header.quantize)


def model_parity(reference: Segmenter, candidate: Segmenter, *, images: int = 4,
                 min_label_agreement: float = HALF_MIN_LABEL_AGREEMENT,
                 max_confidence_diff: float = HALF_MAX_CONFIDENCE_DIFF) -> ParityReport:
    """Labels and confidence of two Segmenters (deployed, eager) on the same sample images."""
    from uncertainty_seg_node.export.deploy import DeployModel, PostProcessing

    config = reference.config
    pictures, source = sample_images(tuple(config.input_size), images)  # type: ignore[arg-type]

    def runner(model: Segmenter) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        post = PostProcessing(score_method=config.score_method, temperature=config.temperature)
        deploy = DeployModel(model.eval(), post).eval()

        @torch.no_grad()
        def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            ids, conf = deploy(torch.from_numpy(batch))[:2]
            return ids.numpy(), conf.float().numpy()

        return run

    return compare_outputs("fp16 delta", runner(reference), runner(candidate), pictures,
                           source=source, min_label_agreement=min_label_agreement,
                           max_confidence_diff=max_confidence_diff)


def pack_summary(report: PackReport) -> dict[str, Any]:
    """JSON-able summary for the CLI."""
    return {"path": str(report.path), "dtype": report.dtype, "quantize": report.quantize,
            "tensors": report.tensors,
            "changed_encoder_tensors": f"{report.changed_encoder_tensors} of "
                                       f"{report.encoder_tensors}",
            "megabytes": round(report.bytes / 2**20, 2),
            "half_parity": report.half_parity.summary() if report.half_parity else None}
