"""Datasets, transforms and batching.

Labelled data (Cityscapes format, images/+labels/ with a class map), unlabelled target images
(folder, video, ROS 2 bag), training/eval transforms and an endless batch stream.
"""

from __future__ import annotations

from uncertainty_seg_node.data.classmap import ClassEntry, ClassMap
from uncertainty_seg_node.data.labelled import LabelledDataset, open_labelled
from uncertainty_seg_node.data.loader import Batch, InfiniteLoader
from uncertainty_seg_node.data.sample import LabelledItem, LabelledSample
from uncertainty_seg_node.data.transforms import (
    EvalTransform,
    TrainTransform,
    labels_to_tensor,
    to_tensor_batch,
)
from uncertainty_seg_node.data.unlabelled import UnlabelledDataset, open_unlabelled

__all__ = [
    "Batch",
    "ClassEntry",
    "ClassMap",
    "EvalTransform",
    "InfiniteLoader",
    "LabelledDataset",
    "LabelledItem",
    "LabelledSample",
    "TrainTransform",
    "UnlabelledDataset",
    "labels_to_tensor",
    "open_labelled",
    "open_unlabelled",
    "to_tensor_batch",
]
