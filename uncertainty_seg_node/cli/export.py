"""`uncertainty-seg export`: checkpoint -> ONNX (post-processing in the graph) [-> TensorRT].

Export a checkpoint or a delta file (built over its backbone) to ONNX in fp32: uint8 RGB image
in, class ids and confidence out, with the model's config in the file's metadata. A parity check
against PyTorch runs by default (>= 99.9 % label agreement, confidence within 1e-3).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.config import SCORE_METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `export`."""
    parser.add_argument("--checkpoint", required=True, type=Path,
                        help="trained checkpoint (.pt) or delta file (.delta.safetensors, e.g. "
                        "models/default.delta.safetensors)")
    parser.add_argument("--onnx", required=True, type=Path, help="output .onnx file")
    arguments.add_size(parser, default=None,
                       help="network input HxW, multiples of 14 (default: the checkpoint's)")
    parser.add_argument("--tensorrt", type=Path, default=None,
                        help="also build a TensorRT engine here (needs TensorRT and a GPU)")
    parser.add_argument("--trt-precision", choices=("fp16", "fp32"), default="fp16",
                        help="TensorRT precision; fp16 keeps LayerNorm/softmax in fp32")
    parser.add_argument("--score", choices=SCORE_METHODS, default=None,
                        help="confidence score computed in the graph (default: the checkpoint's)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="softmax temperature for --score temperature (default: config)")
    parser.add_argument("--energy-sigma", type=float, default=0.0,
                        help="Gaussian smoothing sigma (pixels) for --score energy")
    parser.add_argument("--with-logits", action="store_true",
                        help="also output the K x H x W logits (for evaluation)")
    parser.add_argument("--ids-dtype", choices=("uint8", "int32"), default="uint8")
    parser.add_argument("--confidence-dtype", choices=("float32", "float16"), default="float32")
    parser.add_argument("--static-batch", action="store_true",
                        help="fix the batch dimension to 1 (default: dynamic)")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--no-parity", action="store_true", help="skip the parity check")
    parser.add_argument("--parity-images", type=int, default=4,
                        help="number of sample images for the parity check")
    arguments.add_json_out(parser, help="write a JSON report here")


def run(args: argparse.Namespace) -> int:
    """Export (and build the engine), print what was written, check parity."""
    import torch

    from uncertainty_seg_node.export.deploy import PostProcessing
    from uncertainty_seg_node.export.onnx_export import export_onnx

    with torch.no_grad():  # a context, not set_grad_enabled: run() may be called in-process
        if args.tensorrt is not None:  # fail before a long export, not after it
            from uncertainty_seg_node.export.tensorrt_build import import_tensorrt

            import_tensorrt()
        post = PostProcessing(
            score_method=args.score, temperature=args.temperature,
            energy_sigma=args.energy_sigma, with_logits=args.with_logits,
            ids_dtype=args.ids_dtype, confidence_dtype=args.confidence_dtype,
        )
        source = _network(args.checkpoint)
        result = export_onnx(
            source, args.onnx, size=args.size, post=post,
            dynamic_batch=not args.static_batch, opset=args.opset,
            parity=not args.no_parity, parity_images=args.parity_images,
            source_file=args.checkpoint if source is not args.checkpoint else None,
        )
        height, width = result.config.input_size
        size_mb = result.path.stat().st_size / 1e6
        print(f"wrote {result.path} ({size_mb:.1f} MB): {result.config.arch}, "
              f"input {height}x{width}, "
              f"{result.config.num_classes} classes, score {result.info.score_method}, "
              f"default gamma {result.config.default_gamma:.3f}")
        report: dict[str, Any] = {
            "onnx": str(result.path), "input_size": [height, width],
            "score_method": result.info.score_method,
            "parity": result.parity.to_dict() if result.parity else None,
        }
        if result.parity:
            print(result.parity.summary())
        if args.tensorrt is not None:
            from uncertainty_seg_node.inference.trt_backend import build_engine_on

            engine, key = build_engine_on(result.path, args.tensorrt, precision=args.trt_precision)
            print(f"wrote {engine} for {key.gpu_name}, TensorRT {key.tensorrt_version}, "
                  f"{args.trt_precision} (cache key {key.digest()[:12]})")
            report["tensorrt"] = {"engine": str(engine), "key": key.to_dict()}
            if not args.no_parity:
                parity = _tensorrt_parity(source, engine, result.config.input_size,
                                          args.parity_images, args.trt_precision)
                print(parity.summary())
                report["tensorrt"]["parity"] = parity.to_dict()
        if args.json is not None:
            atomic_write(args.json, json.dumps(report, indent=2) + "\n")
        return 0


def _network(path: Path) -> Any:
    """A checkpoint's path as it is; a delta file as the network built over its backbone."""
    from uncertainty_seg_node.export.delta_header import is_delta_file
    from uncertainty_seg_node.model.artifact import resolve_model_path

    if not is_delta_file(path):
        return path
    from uncertainty_seg_node.export.assemble import build_segmenter_from_delta

    return build_segmenter_from_delta(resolve_model_path(path))


def _tensorrt_parity(source: Any, engine: Path, size: tuple[int, int], count: int,
                     precision: str) -> Any:
    """Engine vs eager torch on CUDA. fp16 engines get looser, reported, non-fatal thresholds."""
    from uncertainty_seg_node.export.parity import compare_outputs, sample_images
    from uncertainty_seg_node.inference.torch_backend import TorchPredictor
    from uncertainty_seg_node.inference.trt_backend import TensorRTPredictor

    trt_predictor = TensorRTPredictor(engine)
    info = trt_predictor.export_info
    options: dict[str, Any] = {"device": "cuda", "input_size": size,
                               "score_method": info.score_method,
                               "temperature": info.temperature,
                               "energy_sigma": info.energy_sigma}
    torch_predictor = (TorchPredictor.from_checkpoint(source, **options)
                       if isinstance(source, Path) else TorchPredictor(source, **options))
    images, source = sample_images((int(size[0]), int(size[1])), count)
    loose = precision == "fp16"
    return compare_outputs(
        f"tensorrt-{precision}",
        lambda b: _pair(torch_predictor.run_network(b)),
        lambda b: _pair(trt_predictor.run_network(b)),
        images, source=source,
        min_label_agreement=0.995 if loose else 0.999,
        max_confidence_diff=2e-2 if loose else 1e-3,
    )


def _pair(outputs: Any) -> tuple[Any, Any]:
    return outputs.class_ids, outputs.confidence
