"""Export a checkpoint to ONNX (post-processing in the graph) and TensorRT, with metadata."""
