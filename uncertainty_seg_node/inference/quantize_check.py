"""The shipping gate of a reduced precision: agreement, AUPR change and speed-up in one run.

A precision below fp32 (ONNX Runtime's int8, OpenVINO's bf16 or int8, and OpenVINO's fp32
against ONNX Runtime's as a parity check) ships only if its labels agree with the fp32 model on
>= 99 % of the pixels and AUPR moves by < 0.005, on labelled frames at the network size: the
user's own (`model_gate_frames(config, data, classes)`: an `images/` + `labels/` folder read by
`data.open_labelled`, in the model's classes), or, for a model in the 19 Cityscapes classes,
synthetic frames of every domain. A model in other classes cannot be gated on the synthetic
frames, whose labels are Cityscapes train ids.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.classes import CITYSCAPES_CLASSES
from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.pipeline import NetworkOutputs, PipelinePredictor

MIN_LABEL_AGREEMENT = 0.99
MAX_AUPR_CHANGE = 0.005
GATE_FRAMES_PER_DOMAIN = 4
GATE_SEED = 11


def labels_fit(class_names: Sequence[str]) -> bool:
    """Whether the synthetic frames' labels (Cityscapes train ids) are in a model's classes."""
    return tuple(class_names) == CITYSCAPES_CLASSES


@functools.lru_cache(maxsize=4)
def gate_frames(size: tuple[int, int], per_domain: int = GATE_FRAMES_PER_DOMAIN,
                seed: int = GATE_SEED) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(images, labels) at the network size: `per_domain` synthetic frames of every domain.

    Kept for the process's next gate at the same size (rendering is most of a small gate's time).
    """
    from uncertainty_seg_node.synth import DOMAINS, render_frames

    frames = [frame for domain in DOMAINS
              for frame in render_frames(domain, per_domain, size, seed)]
    return [f.image for f in frames], [f.labels for f in frames]


@dataclass(frozen=True)
class GateFrames:
    """Labelled frames at a model's input size that a precision is gated on, and their origin."""

    images: list[np.ndarray]  # uint8 (H, W, 3) RGB at the network size
    labels: list[np.ndarray]  # uint8 (H, W) train ids of the model's classes, 255 = ignore
    source: str  # where they came from, for the verdict's record


def model_gate_frames(
    config: ModelConfig, data: str | Path | None = None, classes: str | Path | None = None, *,
    split: str | None = None, max_frames: int | None = None,
    per_domain: int = GATE_FRAMES_PER_DOMAIN, seed: int = GATE_SEED,
) -> GateFrames:
    """The frames to gate the model of `config` on: labelled `data`, or synthetic ones.

    `data`, `classes` and `split` are read as `open_labelled` reads them; `max_frames` takes
    that many, spread evenly over the dataset. Without `data`, only a model in the synthetic
    labels' classes can be gated (`per_domain` frames of every domain, `seed`); any other is a
    UserError that says how to name its own frames.
    """
    if data is not None:
        return labelled_gate_frames(config, data, classes, split=split, max_frames=max_frames)
    if not labels_fit(config.class_names):
        raise UserError(
            f"the model's {len(config.class_names)} classes ({_names(config.class_names)}) are "
            f"not the {len(CITYSCAPES_CLASSES)} Cityscapes classes the synthetic gate frames "
            "are labelled in, so its reduced precision cannot be gated on them; gate it on "
            "labelled frames of its own classes: --data DIR (images/ + labels/) --classes "
            "CLASSES.yaml (the class map it was trained with)")
    from uncertainty_seg_node.synth import DOMAINS

    size = (int(config.input_size[0]), int(config.input_size[1]))
    images, labels = gate_frames(size, per_domain, seed)
    return GateFrames(list(images), list(labels), f"synthetic: {per_domain} frames of each of "
                      f"{len(DOMAINS)} domains (seed {seed})")


def labelled_gate_frames(
    config: ModelConfig, data: str | Path, classes: str | Path | None = None, *,
    split: str | None = None, max_frames: int | None = None,
) -> GateFrames:
    """Frames of a labelled dataset, stretched to the network size as evaluation does.

    The labels must be in the model's classes: its own class map, or, for a model in the
    Cityscapes classes, a map whose classes name their `cityscapes_train_id`.
    """
    from uncertainty_seg_node.data.labelled import open_labelled_for_model
    from uncertainty_seg_node.data.transforms import EvalTransform

    dataset = open_labelled_for_model(data, config.class_names, classes_yaml=classes,
                                      split=split)
    count = len(dataset) if max_frames is None else max(1, min(max_frames, len(dataset)))
    indices = sorted({int(i) for i in np.linspace(0, len(dataset) - 1, count).round()})
    transform = EvalTransform(config)
    pairs = [transform(dataset[i]) for i in indices]
    where = f"{data}" + (f" (split {split})" if split else "")
    return GateFrames([image for image, _ in pairs], [labels for _, labels in pairs],
                      f"{where}: {len(pairs)} of {len(dataset)} labelled frames")


def _names(names: Sequence[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def _timed(predictor: PipelinePredictor, image: np.ndarray) -> tuple[NetworkOutputs, float]:
    start = time.perf_counter()
    outputs = predictor.run_network(np.ascontiguousarray(image[None]))
    return outputs, 1e3 * (time.perf_counter() - start)


def precision_gate(
    reference: PipelinePredictor, candidate: PipelinePredictor, images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray] | None = None, *, repeats: int = 2,
) -> dict[str, Any]:
    """Agreement, AUPR change (with `labels` at network size) and speed-up, candidate vs fp32.

    The two run interleaved image by image (`repeats` rounds), so both see the same load.
    `ships` needs labels: without them AUPR cannot be checked.
    """
    from uncertainty_seg_node.metrics.evaluator import Evaluator

    config = reference.config
    evaluators = [Evaluator(config.num_classes, config.ignore_index, config.default_gamma)
                  for _ in range(2)]
    _timed(reference, images[0])
    _timed(candidate, images[0])
    ref_ms: list[float] = []
    cand_ms: list[float] = []
    agree = total = 0
    for round_index in range(repeats):
        for index, image in enumerate(images):
            ref, t_ref = _timed(reference, image)
            out, t_out = _timed(candidate, image)
            ref_ms.append(t_ref)
            cand_ms.append(t_out)
            if round_index:
                continue
            agree += int((ref.class_ids == out.class_ids).sum())
            total += ref.class_ids.size
            if labels is not None:
                for evaluator, got in zip(evaluators, (ref, out)):
                    evaluator.update(got.class_ids[0], got.confidence[0], labels[index], None)
    result: dict[str, Any] = {
        "label_agreement": agree / max(total, 1),
        "reference_ms_median": float(np.median(ref_ms)),
        "candidate_ms_median": float(np.median(cand_ms)),
        "frames": len(images),
    }
    result["speedup"] = result["reference_ms_median"] / result["candidate_ms_median"]
    if labels is not None:
        result["aupr_reference"] = float(evaluators[0].compute()["aupr"])
        result["aupr_candidate"] = float(evaluators[1].compute()["aupr"])
        result["aupr_change"] = abs(result["aupr_candidate"] - result["aupr_reference"])
    result["ships"] = bool(
        result["label_agreement"] >= MIN_LABEL_AGREEMENT
        and labels is not None and result["aupr_change"] < MAX_AUPR_CHANGE)
    return result


def gate_summary(gate: dict[str, Any]) -> str:
    """One line: the figures and the verdict."""
    aupr = (f"AUPR {gate['aupr_reference']:.4f} -> {gate['aupr_candidate']:.4f} (moved "
            f"{gate['aupr_change']:.4f}, limit {MAX_AUPR_CHANGE})" if "aupr_change" in gate
            else "AUPR not measured (no labels)")
    return (f"labels agree on {100 * gate['label_agreement']:.2f} % of pixels (limit "
            f"{100 * MIN_LABEL_AGREEMENT:.0f} %), {aupr} on {gate['frames']} frames: "
            f"{'passes' if gate['ships'] else 'fails'}")


def quantization_check(
    fp32: str | Path, int8: str | Path, images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray] | None = None, *, threads: int | None = None, repeats: int = 2,
) -> dict[str, Any]:
    """`precision_gate` of two ONNX files in ONNX Runtime, under the int8 check's key names."""
    from uncertainty_seg_node.inference.ort_backend import OrtPredictor

    gate = precision_gate(OrtPredictor(fp32, threads=threads), OrtPredictor(int8, threads=threads),
                          images, labels, repeats=repeats)
    names = {"reference_ms_median": "fp32_ms_median", "candidate_ms_median": "int8_ms_median",
             "aupr_reference": "aupr_fp32", "aupr_candidate": "aupr_int8"}
    return {names.get(key, key): value for key, value in gate.items() if key != "frames"}
