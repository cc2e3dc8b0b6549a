"""Streaming, fixed-memory metrics (numpy only): detection, calibration, mIoU, overlap, anomaly.

The maths lives in pure functions over fixed-size states (`detection`, `calibration`,
`confusion`, `overlap`); `Evaluator` accumulates those states frame by frame.
"""

from __future__ import annotations

from uncertainty_seg_node.metrics.binning import DEFAULT_NUM_BINS, gamma_for_level, quantize
from uncertainty_seg_node.metrics.calibration import (
    CalibrationState,
    expected_calibration_error,
    maximum_calibration_error,
    reliability,
)
from uncertainty_seg_node.metrics.confusion import (
    confusion_matrix,
    mean_iou,
    per_class_iou,
    pixel_accuracy,
)
from uncertainty_seg_node.metrics.detection import (
    DetectionCurves,
    MaxF,
    auroc,
    average_precision,
    detection_curves,
    fpr_at_tpr,
    gamma_for_precision,
    max_fbeta,
)
from uncertainty_seg_node.metrics.evaluator import Evaluator
from uncertainty_seg_node.metrics.frame import frame_summary
from uncertainty_seg_node.metrics.jsonable import to_jsonable
from uncertainty_seg_node.metrics.overlap import dice_from_counts, uncertainty_error_dice

__all__ = [
    "DEFAULT_NUM_BINS",
    "CalibrationState",
    "DetectionCurves",
    "Evaluator",
    "MaxF",
    "auroc",
    "average_precision",
    "confusion_matrix",
    "detection_curves",
    "dice_from_counts",
    "expected_calibration_error",
    "fpr_at_tpr",
    "frame_summary",
    "gamma_for_level",
    "gamma_for_precision",
    "max_fbeta",
    "maximum_calibration_error",
    "mean_iou",
    "per_class_iou",
    "pixel_accuracy",
    "quantize",
    "reliability",
    "to_jsonable",
    "uncertainty_error_dice",
]
