"""One inference interface for the node, the replay evaluation and the benchmark.

    from uncertainty_seg_node.inference import load_predictor
    predictor = load_predictor("model.onnx")            # or .pt / .engine, backend=...
    prediction = predictor.predict(image, encoding="bgr8")

Importing this package does not import torch: an ONNX Runtime deployment needs no torch.
"""

from uncertainty_seg_node.inference.base import Prediction, Predictor
from uncertainty_seg_node.inference.factory import load_predictor

__all__ = ["Prediction", "Predictor", "load_predictor"]
