"""Whether an int8-quantised model may ship: agreement, AUPR change and speed-up in one run.

It ships only if (issue 11) labels agree with the fp32 model on >= 99 % of pixels and AUPR
changes by < 0.005 on labelled frames.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MIN_LABEL_AGREEMENT = 0.99
MAX_AUPR_CHANGE = 0.005


def _timed_run(predictor: Any, images: Sequence[np.ndarray]) -> tuple[list[Any], list[float]]:
    outputs, times = [], []
    for image in images:
        start = time.perf_counter()
        outputs.append(predictor.run_network(np.ascontiguousarray(image[None])))
        times.append(1e3 * (time.perf_counter() - start))
    return outputs, times


def quantization_check(
    fp32: str | Path, int8: str | Path, images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray] | None = None, *, threads: int | None = None, repeats: int = 2,
) -> dict[str, Any]:
    """Agreement, AUPR change (with `labels` at network size) and speed-up, int8 vs fp32.

    The two models run interleaved image by image (`repeats` rounds), so both see the same load.
    """
    from uncertainty_seg_node.inference.ort_backend import OrtPredictor
    from uncertainty_seg_node.metrics.evaluator import Evaluator

    reference = OrtPredictor(fp32, threads=threads)
    candidate = OrtPredictor(int8, threads=threads)
    config = reference.config
    evaluators = [Evaluator(config.num_classes, config.ignore_index, config.default_gamma)
                  for _ in range(2)]
    _timed_run(reference, images[:1])
    _timed_run(candidate, images[:1])
    ref_ms: list[float] = []
    cand_ms: list[float] = []
    agree = total = 0
    for round_index in range(repeats):
        for index, image in enumerate(images):
            (ref,), (t_ref,) = _timed_run(reference, [image])
            (out,), (t_out,) = _timed_run(candidate, [image])
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
        "fp32_ms_median": float(np.median(ref_ms)),
        "int8_ms_median": float(np.median(cand_ms)),
    }
    result["speedup"] = result["fp32_ms_median"] / result["int8_ms_median"]
    if labels is not None:
        result["aupr_fp32"] = float(evaluators[0].compute()["aupr"])
        result["aupr_int8"] = float(evaluators[1].compute()["aupr"])
        result["aupr_change"] = abs(result["aupr_int8"] - result["aupr_fp32"])
    result["ships"] = bool(
        result["label_agreement"] >= MIN_LABEL_AGREEMENT
        and labels is not None and result["aupr_change"] < MAX_AUPR_CHANGE)
    return result

