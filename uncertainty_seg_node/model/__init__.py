"""The segmentation network f = D o E (DINOv2 ViT encoder + dense decoder) and its model file.

`Segmenter` and `build_segmenter` load on first use, so that reading a model file (which the
ONNX Runtime deployment does through `model.artifact`) never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uncertainty_seg_node.model.segmenter import Segmenter, build_segmenter

__all__ = ["Segmenter", "build_segmenter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from uncertainty_seg_node.model import segmenter

        return getattr(segmenter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
