"""What a dataset yields (`LabelledSample`), how it finds it (`LabelledItem`), a sample's name.

`LabelledImage` is what evaluation and calibration read from a sample, so any object with those
fields (a `LabelledSample`, a replayed frame, a test's own) can be evaluated.

A training sample is named by `sample_key(loader, image, index, view)`: the loader's identity
(how it turns an image into a tensor, data/loader.py), the digest of the image's bytes
(`content_digest`, run once per image when a loader first draws), its index and its view. Every
cache of a run (the frozen encoder's features, the teacher's logits, the mask bank) keys its
entries by that name, so no cache hashes pixels again.
"""

from __future__ import annotations

import hashlib
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


def content_digest(data: bytes) -> str:
    """A digest of one image's bytes (its file, or a decoded stream's stored frame)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def sample_key(loader: str, image: str, index: int, view: int) -> str:
    """The name of view `view` (-1: the plain image) of image `index` with digest `image`.

    `loader`: the identity of the loader that makes the image into a tensor.
    """
    return f"{loader}:{image}:{index}:{view}"
