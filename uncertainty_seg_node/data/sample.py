"""What a labelled dataset yields (`LabelledSample`) and how it finds it (`LabelledItem`).

`LabelledImage` is what evaluation and calibration read from a sample, so any object with those
fields (a `LabelledSample`, a replayed frame, a test's own) can be evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from uncertainty_seg_node.data.classmap import ClassMap


class LabelledImage(Protocol):
    """A labelled frame as evaluation and calibration read it."""

    name: str
    image: np.ndarray  # uint8 (H, W, 3) RGB
    labels: np.ndarray  # uint8 (H, W) train ids, ignore index for unlabelled pixels
    anomaly: np.ndarray | None


@dataclass
class LabelledSample:
    """One labelled frame: RGB image, train-id labels (255 = ignore), optional anomaly mask."""

    name: str
    image: np.ndarray  # uint8 (H, W, 3) RGB
    labels: np.ndarray  # uint8 (H, W) train ids, 255 = ignore
    anomaly: np.ndarray | None = None  # bool (H, W): pixels of objects outside the classes


@dataclass(frozen=True)
class LabelledItem:
    """Where one sample lives on disk and which class map reads its labels."""

    name: str
    image_path: Path
    label_path: Path
    classmap: ClassMap
    anomaly_path: Path | None = None
