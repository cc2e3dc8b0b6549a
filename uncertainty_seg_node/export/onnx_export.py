"""Checkpoint -> ONNX file with post-processing in the graph, metadata, and a parity check.

Graph interface (fixed H, W per export; dynamic batch by default):
    input  `image`      uint8   (B, H, W, 3) RGB at the network size
    output `class_ids`  uint8   (B, H, W)    (int32 with ids_dtype="int32")
    output `confidence` float32 (B, H, W)    in [0, 1] (float16 with confidence_dtype="float16")
    output `logits`     float32 (B, K, H, W) only with with_logits=True
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.export.deploy import AS_CONFIGURED, DeployModel, PostProcessing
from uncertainty_seg_node.export.parity import ParityReport, compare_outputs, sample_images
from uncertainty_seg_node.model.artifact import (
    INPUT_NAME,
    OUTPUT_CONFIDENCE,
    OUTPUT_IDS,
    OUTPUT_LOGITS,
    ExportInfo,
    file_sha256,
    output_names,
    portable_path,
    set_onnx_metadata,
)
from uncertainty_seg_node.model.checkpoint import load_checkpoint
from uncertainty_seg_node.model.segmenter import Segmenter

DEFAULT_OPSET = 17  # LayerNormalization is one op from 17 on: TensorRT can keep it in fp32


@dataclass
class ExportResult:
    """What `export_onnx` wrote and how it checked it."""

    path: Path
    config: ModelConfig
    info: ExportInfo
    parity: ParityReport | None


def export_onnx(
    source: str | Path | Segmenter,
    out_path: str | Path,
    *,
    size: tuple[int, int] | None = None,
    post: PostProcessing = AS_CONFIGURED,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    parity: bool = True,
    parity_images: int = 4,
    source_file: str | Path | None = None,
) -> ExportResult:
    """Export a checkpoint (path) or a Segmenter to ONNX; raise UserError if parity fails.

    `post` says what the graph computes after the logits; its score method and temperature,
    when given, also become the exported model's own (its metadata). `source_file`: the file a
    given Segmenter was built from (e.g. a delta file), recorded with its hash.
    """
    checkpoint = ""
    checkpoint_sha = ""
    if isinstance(source, Segmenter):
        segmenter = copy.deepcopy(source)  # the export patches its position embeddings
        if source_file is not None:
            checkpoint, checkpoint_sha = portable_path(source_file), file_sha256(source_file)
    else:
        segmenter = load_checkpoint(source).model
        checkpoint, checkpoint_sha = portable_path(source), file_sha256(source)
    segmenter = segmenter.cpu().eval()
    overrides: dict[str, Any] = {}
    if size is not None:
        overrides["input_size"] = tuple(size)
    if post.score_method is not None:
        overrides["score_method"] = post.score_method
    if post.temperature is not None:
        overrides["temperature"] = float(post.temperature)
    config = dataclasses.replace(segmenter.config, **overrides)
    config.validate()
    freeze_position_embeddings(segmenter, config.input_size)
    post = dataclasses.replace(post, score_method=config.score_method,
                               temperature=config.temperature)
    deploy = DeployModel(segmenter, post).eval()
    info = ExportInfo(
        score_method=config.score_method, temperature=config.temperature,
        energy_sigma=float(post.energy_sigma), with_logits=post.with_logits,
        ids_dtype=post.ids_dtype, confidence_dtype=post.confidence_dtype,
        input_size=tuple(config.input_size),  # type: ignore[arg-type]
        dynamic_batch=dynamic_batch, opset=opset, torch_version=torch.__version__,
        checkpoint=checkpoint, checkpoint_sha256=checkpoint_sha,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    data = onnx_bytes(deploy, config, info)
    out_path = Path(out_path)
    atomic_write(out_path, data)
    report = None
    if parity:
        report = check_onnx_parity(deploy, out_path, count=parity_images)
        info.parity = report.to_dict()
        atomic_write(out_path, _with_metadata(out_path.read_bytes(), config, info))
        if not report.passed:
            raise UserError(f"{report.summary()}; {out_path} is kept for inspection")
    return ExportResult(out_path, config, info, report)


def freeze_position_embeddings(segmenter: Segmenter, size: tuple[int, int]) -> None:
    """Precompute the ViT's position embeddings for the fixed export size, in place.

    The tracer otherwise records the bicubic interpolation of the 37 x 37 grid with sizes taken
    from the (dynamic-batch) input's shape, which ONNX Runtime cannot constant-fold: it cost
    about 40 % of a tiny model's CPU time per frame.
    """
    embeddings = segmenter.encoder.vit.embeddings
    height, width = size
    patches = (height // segmenter.config.patch_size) * (width // segmenter.config.patch_size)
    probe = torch.zeros(1, patches + 1, segmenter.config.hidden_size)
    with torch.no_grad():
        frozen = embeddings.interpolate_pos_encoding(probe, height, width).detach().clone()
    embeddings.register_buffer("frozen_position_embeddings", frozen, persistent=False)

    def interpolate_pos_encoding(_embeddings: Tensor, h: int, w: int) -> Tensor:
        return cast(Tensor, embeddings.frozen_position_embeddings)

    embeddings.interpolate_pos_encoding = interpolate_pos_encoding  # type: ignore[method-assign,assignment]


def onnx_bytes(deploy: DeployModel, config: ModelConfig, info: ExportInfo) -> bytes:
    """Trace `deploy` to a serialised ONNX model carrying its metadata."""
    height, width = config.input_size
    example = torch.zeros((1, height, width, 3), dtype=torch.uint8)
    outputs = output_names(info.with_logits)
    dynamic = None
    if info.dynamic_batch:
        dynamic = {name: {0: "batch"} for name in [INPUT_NAME, *outputs]}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated but needs no onnxscript and traces HF models.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            deploy, (example,), buffer,  # type: ignore[arg-type]
            dynamo=False, opset_version=info.opset,
            input_names=[INPUT_NAME], output_names=outputs, dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    return _with_metadata(buffer.getvalue(), config, info, fix_shapes=True)


def _with_metadata(data: bytes, config: ModelConfig, info: ExportInfo, *,
                   fix_shapes: bool = False) -> bytes:
    import onnx

    model = onnx.load_from_string(data)
    if fix_shapes:
        _set_output_shapes(model, config, info)
    set_onnx_metadata(model, config, info)
    model.producer_name = "uncertainty_seg_node"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _set_output_shapes(model: object, config: ModelConfig, info: ExportInfo) -> None:
    """Name the output dims concretely (the tracer leaves H, W, K symbolic)."""
    height, width = config.input_size
    dims = {
        OUTPUT_IDS: [height, width],
        OUTPUT_CONFIDENCE: [height, width],
        OUTPUT_LOGITS: [config.num_classes, height, width],
    }
    for output in model.graph.output:  # type: ignore[attr-defined]
        shape = output.type.tensor_type.shape
        for dim, value in zip(list(shape.dim)[1:], dims[output.name]):
            dim.Clear()
            dim.dim_value = value
        if not info.dynamic_batch:
            shape.dim[0].Clear()
            shape.dim[0].dim_value = 1


def check_onnx_parity(
    deploy: DeployModel, onnx_path: Path, *, count: int = 4, seed: int = 0
) -> ParityReport:
    """ONNX Runtime vs the eager DeployModel on `count` sample images at the network size.

    A plain CPU session, not the ONNX Runtime backend: export stays below inference.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; ORT warns about unused initializers
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    height, width = session.get_inputs()[0].shape[1:3]  # fixed per export (batch is dynamic)
    images, source = sample_images((int(height), int(width)), count, seed)

    @torch.no_grad()
    def reference(batch):  # type: ignore[no-untyped-def]
        ids, conf = deploy(torch.from_numpy(batch))[:2]
        return ids.numpy(), conf.float().numpy()

    def candidate(batch):  # type: ignore[no-untyped-def]
        ids, conf = session.run(output_names(False), {INPUT_NAME: batch})
        return ids, conf.astype(np.float32, copy=False)

    return compare_outputs("onnxruntime", reference, candidate, images, source=source)
