"""Gamma (and temperature) calibration on labelled validation data, written into the model.

- gamma at MaxF0.5: the threshold on the model's confidence that maximises F0.5 of "certain =
  accurate" (seed 000's headline metric); or, when asked, the gamma with the most recall among
  those whose certain pixels reach a target precision (what a planner asks for, e.g. 0.99).
- temperature: T minimising the NLL of softmax(logits / T) on labelled pixels (seed 003), fitted
  on a seeded subsample of pixels from every frame (needs logits: a checkpoint, or an ONNX file
  exported `--with-logits`).

Both are written into the model's own metadata (checkpoint config, ONNX metadata_props and the
`temperature` initializer, or an engine's sidecar) with a `calibration` record in provenance.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import math
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.imageops import resize_labels
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.inference.preprocess import plan_resize
from uncertainty_seg_node.metrics import Evaluator, detection
from uncertainty_seg_node.metrics.binning import gamma_for_level


class _Sample(Protocol):
    name: str
    image: np.ndarray
    labels: np.ndarray


@dataclass
class OperatingPoint:
    """Misclassification-detection figures of `confidence > gamma` on the validation pixels."""

    gamma: float
    precision: float
    recall: float
    p_ac: float
    f05: float
    certain_fraction: float


@dataclass
class CalibrationResult:
    """What `calibrate_gamma` (and `fit_temperature_on`) found."""

    gamma: float  # the gamma to write as the model's default
    gamma_source: str  # "maxf05" or "precision>=P"
    at_gamma: OperatingPoint
    maxf05: OperatingPoint
    previous: OperatingPoint  # the model's default gamma before calibration (exact counts)
    target_precision: float | None = None
    gamma_at_precision: float | None = None
    temperature: float | None = None
    nll_before: float | None = None
    nll_after: float | None = None
    frames: int = 0
    pixels: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def operating_point(evaluator: Evaluator, level: int) -> OperatingPoint:
    """Figures at histogram threshold `level` (certain = confidence level >= level)."""
    curves = detection.detection_curves(evaluator.hist[1], evaluator.hist[0], 0.5)
    total = max(evaluator.num_pixels, 1)
    return OperatingPoint(
        gamma=gamma_for_level(level, evaluator.num_bins),
        precision=float(curves.precision[level]), recall=float(curves.recall[level]),
        p_ac=float(curves.p_ac[level]), f05=float(curves.fbeta[level]),
        certain_fraction=float(curves.tp[level] + curves.fp[level]) / total,
    )


def calibrate_gamma(evaluator: Evaluator, target_precision: float | None = None
                    ) -> CalibrationResult:
    """Pick gamma from a filled Evaluator (collected at the model's current default gamma)."""
    if evaluator.num_pixels == 0:
        raise UserError("no labelled (non-ignore) pixels to calibrate gamma on")
    best = detection.max_fbeta(evaluator.hist[1], evaluator.hist[0], 0.5)
    maxf = operating_point(evaluator, best.level)
    figures = evaluator.compute()
    previous = OperatingPoint(
        gamma=float(figures["gamma"]), precision=float(figures["precision_at_gamma"]),
        recall=float(figures["recall_at_gamma"]), p_ac=float(figures["p_ac_at_gamma"]),
        f05=float(figures["f05_at_gamma"]), certain_fraction=float(figures["certain_fraction"]),
    )
    result = CalibrationResult(
        gamma=maxf.gamma, gamma_source="maxf05", at_gamma=maxf, maxf05=maxf, previous=previous,
        frames=evaluator.frames, pixels=evaluator.num_pixels,
    )
    if target_precision is not None:
        if not 0.0 < target_precision <= 1.0:
            raise UserError(f"target precision {target_precision} must be in (0, 1]")
        level = detection.level_for_precision(evaluator.hist[1], evaluator.hist[0],
                                              target_precision)
        if level is None:
            best_precision = np.nanmax(detection.detection_curves(
                evaluator.hist[1], evaluator.hist[0]).precision)
            raise UserError(
                f"no gamma reaches a precision of {target_precision} on this data (the best "
                f"is {best_precision:.4f}); lower --target-precision or improve the model"
            )
        point = operating_point(evaluator, level)
        result.target_precision = float(target_precision)
        result.gamma_at_precision = point.gamma
        result.gamma, result.gamma_source, result.at_gamma = (
            point.gamma, f"precision>={target_precision}", point)
    return result


def collect_logits(
    predictor: Predictor,
    dataset: Iterable[_Sample],
    *,
    pixels_per_frame: int = 20_000,
    max_frames: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subsample of (logits (N, K), labels (N,)) of valid pixels at network size."""
    config = predictor.config
    rng = np.random.default_rng(seed)
    chunks, targets = [], []
    for index, sample in enumerate(dataset):
        if max_frames is not None and index >= max_frames:
            break
        prediction = predictor.predict(sample.image, encoding="rgb8", with_logits=True)
        if prediction.logits is None:
            raise UserError("the model returned no logits; temperature fitting needs them")
        labels = labels_at_network_size(sample.labels, config)
        flat = labels.ravel()
        valid = np.flatnonzero(flat != config.ignore_index)
        if valid.size > pixels_per_frame:
            valid = rng.choice(valid, pixels_per_frame, replace=False)
        logits = prediction.logits.reshape(prediction.logits.shape[0], -1)
        chunks.append(logits[:, valid].T.astype(np.float32))
        targets.append(flat[valid].astype(np.int64))
    if not chunks or sum(len(t) for t in targets) == 0:
        raise UserError("no labelled (non-ignore) pixels to fit the temperature on")
    return np.concatenate(chunks), np.concatenate(targets)


def labels_at_network_size(labels: np.ndarray, config: ModelConfig) -> np.ndarray:
    """Camera-size labels mapped like the image (resize policy), padding = ignore."""
    net = (int(config.input_size[0]), int(config.input_size[1]))
    plan = plan_resize((labels.shape[0], labels.shape[1]), net, config.resize_policy)
    top, left, box_h, box_w = plan.box
    out = np.full(net, config.ignore_index, np.uint8)
    out[top:top + box_h, left:left + box_w] = resize_labels(labels, (box_h, box_w))
    return out


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of softmax(logits / T) (float64, stable)."""
    z = logits.astype(np.float64) / temperature
    top = z.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def fit_temperature_on(
    predictor: Predictor, dataset: Iterable[_Sample], *, max_frames: int | None = None,
    pixels_per_frame: int = 20_000,
) -> tuple[float, float, float]:
    """(T, NLL at T=1, NLL at T) on the dataset's labelled pixels."""
    import torch

    from uncertainty_seg_node.scores import fit_temperature

    logits, labels = collect_logits(predictor, dataset, max_frames=max_frames,
                                    pixels_per_frame=pixels_per_frame)
    if labels.max() >= logits.shape[1]:
        raise UserError(f"labels hold ids >= {logits.shape[1]}, outside the model's classes")
    temperature = fit_temperature(torch.from_numpy(logits), torch.from_numpy(labels),
                                  predictor.config.ignore_index)
    return temperature, nll(logits, labels), nll(logits, labels, temperature)


def write_calibration(
    model_path: str | Path,
    out_path: str | Path | None = None,
    *,
    gamma: float | None = None,
    temperature: float | None = None,
    record: dict[str, Any] | None = None,
) -> Path:
    """Write a new default gamma / temperature (and a provenance record) into a model file.

    `out_path=None` rewrites the file in place (atomically). Checkpoints, ONNX files and
    engines (sidecar JSON) are supported; an engine's baked-in temperature cannot change.
    """
    from uncertainty_seg_node.inference.factory import model_kind

    model_path = Path(model_path)
    out = Path(out_path) if out_path is not None else model_path
    if gamma is not None and not 0.0 <= gamma <= 1.0:
        raise UserError(f"gamma {gamma} is outside [0, 1]")
    if temperature is not None and not temperature > 0:
        raise UserError(f"temperature must be > 0, got {temperature}")
    if out != model_path and model_kind(out) != model_kind(model_path):
        raise UserError(f"--out {out} must have the same file type as {model_path}")
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = {**(record or {}), "written": stamp}

    def updated(config: ModelConfig) -> ModelConfig:
        changes: dict[str, Any] = {"provenance": {**config.provenance, "calibration": entry}}
        if gamma is not None:
            changes["default_gamma"] = float(gamma)
        if temperature is not None:
            changes["temperature"] = float(temperature)
        return dataclasses.replace(config, **changes)

    kind = model_kind(model_path)
    if kind == "checkpoint":
        _write_checkpoint(model_path, out, updated)
    elif kind == "onnx":
        _write_onnx(model_path, out, updated, temperature)
    else:
        _write_engine(model_path, out, updated, temperature)
    return out


def _write_checkpoint(path: Path, out: Path, updated: Any) -> None:
    import torch

    from uncertainty_seg_node.export.metadata import write_bytes_atomic
    from uncertainty_seg_node.model.checkpoint import read_checkpoint_payload

    payload = read_checkpoint_payload(path)
    payload["config"] = updated(ModelConfig.from_json(payload["config"])).to_json()
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(out, buffer.getvalue())


def _write_onnx(path: Path, out: Path, updated: Any, temperature: float | None) -> None:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise UserError("rewriting ONNX metadata needs the `onnx` package "
                        "(`pip install onnx`)") from None
    from uncertainty_seg_node.export.metadata import (
        TEMPERATURE_INITIALIZER,
        parse_metadata,
        set_onnx_metadata,
        write_bytes_atomic,
    )

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf decode errors vary
        raise UserError(f"{path} is not a readable ONNX file ({exc})") from None
    config, info = parse_metadata({p.key: p.value for p in model.metadata_props}, path)
    if temperature is not None and info.score_method == "temperature":
        found = [i for i in model.graph.initializer if i.name == TEMPERATURE_INITIALIZER]
        if not found:
            raise UserError(f"{path} has no `{TEMPERATURE_INITIALIZER}` initializer; re-export "
                            "it with `--score temperature --temperature T`")
        found[0].CopyFrom(numpy_helper.from_array(np.array(temperature, np.float32),
                                                  TEMPERATURE_INITIALIZER))
        info = dataclasses.replace(info, temperature=float(temperature))
    set_onnx_metadata(model, updated(config), info)
    write_bytes_atomic(out, model.SerializeToString())


def _write_engine(path: Path, out: Path, updated: Any, temperature: float | None) -> None:
    from uncertainty_seg_node.export.metadata import read_sidecar, write_sidecar

    config, info, cache = read_sidecar(path)
    if temperature is not None and info.score_method == "temperature":
        raise UserError(f"{path} has its temperature compiled in; calibrate the .onnx file and "
                        "rebuild the engine from it")
    if out != path:
        shutil.copyfile(path, out)
    write_sidecar(out, updated(config), info, cache)


def summary_lines(result: CalibrationResult) -> list[str]:
    """A short human-readable report."""
    def row(name: str, p: OperatingPoint) -> str:
        return (f"  {name:<22} gamma {p.gamma:.4f}  precision {p.precision:.4f}  recall "
                f"{p.recall:.4f}  p(a,c) {p.p_ac:.4f}  F0.5 {p.f05:.4f}  certain "
                f"{100 * p.certain_fraction:.1f} %")

    lines = [f"calibrated on {result.frames} frames, {result.pixels} labelled pixels:",
             row("before (model default)", result.previous), row("MaxF0.5", result.maxf05)]
    if result.target_precision is not None:
        lines.append(row(f"precision >= {result.target_precision}", result.at_gamma))
    if result.temperature is not None:
        lines.append(f"  temperature {result.temperature:.4f}: NLL {result.nll_before:.4f} -> "
                     f"{result.nll_after:.4f}")
    lines.append(f"  written default gamma: {result.gamma:.4f} ({result.gamma_source})")
    return lines


def jsonable(result: CalibrationResult) -> str:
    """JSON text of a result (NaN -> null)."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return json.dumps(clean(result.to_dict()), indent=2, sort_keys=True)
