"""Run a predictor over a labelled dataset and accumulate every metric (streaming).

Backend-agnostic: anything implementing the `Predictor` protocol (`inference/base.py`) works, so
a checkpoint, an ONNX file and a TensorRT engine are evaluated by the same code on the same
pixels. Predictions come back at the image's resolution, which must equal the labels'.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sized
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.data.sample import LabelledImage
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import resolve_gamma
from uncertainty_seg_node.inference.base import Predictor
from uncertainty_seg_node.metrics import Evaluator


def model_name(predictor: Predictor) -> str:
    """A short description of where the predictor's weights came from."""
    return predictor.source or str(predictor.config.arch)


def _frames(dataset: Iterable[LabelledImage], max_frames: int | None
            ) -> tuple[Iterable[LabelledImage], int]:
    total = len(dataset) if isinstance(dataset, Sized) else -1
    if total == 0:
        raise UserError("the dataset is empty; it needs at least one labelled image")
    if max_frames is not None:
        if max_frames < 1:
            raise UserError(f"--max-frames must be at least 1, got {max_frames}")
        total = max_frames if total < 0 else min(total, max_frames)
    return dataset, total


def collect_evaluator(
    predictor: Predictor,
    dataset: Iterable[LabelledImage],
    *,
    gamma: float | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    timings: dict[str, list[float]] | None = None,
) -> Evaluator:
    """Predict every frame and return the filled `Evaluator` (for curves, gamma searches...).

    `gamma=None` uses the model's default gamma for the at-gamma figures. `timings`, when given,
    receives the per-frame stage timings (ms) reported by the predictor.
    """
    config = predictor.config
    gamma_value = resolve_gamma(gamma, config.default_gamma)
    dataset_names = getattr(dataset, "class_names", None)
    if dataset_names is not None and len(dataset_names) != config.num_classes:
        raise UserError(
            f"the dataset has {len(dataset_names)} classes but the model predicts "
            f"{config.num_classes}; pass a class map (--classes) in the model's label space"
        )
    evaluator = Evaluator(
        config.num_classes, config.ignore_index, gamma_value, class_names=config.class_names
    )
    frames, total = _frames(dataset, max_frames)
    iterator: Iterable[LabelledImage] = frames
    if progress:
        from tqdm import tqdm

        iterator = tqdm(frames, total=total if total > 0 else None, desc="evaluate",
                        unit="frame", leave=False)
    for sample in iterator:
        if max_frames is not None and evaluator.frames >= max_frames:
            break
        image_hw = tuple(sample.image.shape[:2])
        if tuple(sample.labels.shape) != image_hw:
            raise UserError(
                f"{sample.name}: labels are {_size(sample.labels.shape)} but the image is "
                f"{_size(image_hw)}; labels must have the image's size"
            )
        prediction = predictor.predict(sample.image, encoding="rgb8", gamma=gamma_value)
        evaluator.update(prediction.class_ids, prediction.confidence, sample.labels,
                         sample.anomaly)
        if timings is not None:
            for stage, ms in prediction.timings_ms.items():
                timings.setdefault(stage, []).append(float(ms))
    if evaluator.frames == 0:
        raise UserError("the dataset is empty; it needs at least one labelled image")
    return evaluator


def evaluate_predictor(
    predictor: Predictor,
    dataset: Iterable[LabelledImage],
    *,
    model: str | Path | None = None,
    curves: bool = False,
    gamma: float | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Every metric of `predictor` on `dataset` (see `Evaluator.compute`), plus run details.

    Extra keys: `frames`, `model`, `backend`, `precision`, `score_method`, `gamma_source`
    ("given" or "model default"), `seconds` and `timings_ms` (median per stage); with `curves`,
    also `curves` (the arrays of `Evaluator.curves`, for plots; not JSON). `model` names the model
    in the result (default: from the predictor); the rest goes to `collect_evaluator`.
    """
    timings: dict[str, list[float]] = {}
    start = time.perf_counter()
    evaluator = collect_evaluator(predictor, dataset, gamma=gamma, progress=progress,
                                  max_frames=max_frames, timings=timings)
    result = summarize(evaluator, predictor, gamma_given=gamma is not None, model=model,
                       seconds=time.perf_counter() - start, timings=timings)
    if curves:
        result["curves"] = evaluator.curves()
    return result


def summarize(
    evaluator: Evaluator,
    predictor: Predictor,
    *,
    gamma_given: bool,
    model: str | Path | None = None,
    seconds: float = float("nan"),
    timings: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    """`evaluator.compute()` plus the run details `evaluate_predictor` adds."""
    result = evaluator.compute()
    result.update(
        gamma_source="given" if gamma_given else "model default",
        frames=evaluator.frames,
        model=str(model) if model is not None else model_name(predictor),
        backend=predictor.backend_name,
        precision=predictor.precision,
        score_method=predictor.config.score_method,
        seconds=seconds,
        timings_ms={stage: float(np.median(v)) for stage, v in (timings or {}).items()},
    )
    return result


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[0]}x{shape[1]} (HxW)"
