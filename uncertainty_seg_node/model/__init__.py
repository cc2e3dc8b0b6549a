"""The segmentation network f = D o E: a DINOv2 ViT encoder and a light dense decoder."""

from uncertainty_seg_node.model.segmenter import Segmenter, build_segmenter

__all__ = ["Segmenter", "build_segmenter"]
