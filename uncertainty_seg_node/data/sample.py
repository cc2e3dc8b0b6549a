"""What a labelled dataset yields (`LabelledSample`) and how it finds it (`LabelledItem`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uncertainty_seg_node.data.classmap import ClassMap


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
