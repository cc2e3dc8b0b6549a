"""One-command GPU check of the deployment path (tools/gpu_check.sh runs it).

Export -> ONNX Runtime CUDA -> TensorRT fp32 and fp16 (cache hit on the second start) -> parity
against torch -> bench of the default model and of ViT-S/14 at 518x1036, printed as one table.

Every part that cannot run prints one line `CANNOT RUN <part>: <why>`; a part that runs and
fails prints `FAILED <part>: <why>`. The exit status is 0 only when every part ran and passed.
Weights are seeded random ones of each architecture (no download): the check is about the
deployment path and its speed, not about accuracy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROWS: list[tuple[str, str, str]] = []  # (part, status, detail)


class CannotRunError(Exception):
    """A part whose prerequisite is missing on this machine."""


def part(name: str, run: Callable[[], str]) -> bool:
    """Run one part, record its row; True when it passed."""
    start = time.monotonic()
    try:
        detail = run()
    except CannotRunError as exc:
        print(f"CANNOT RUN {name}: {exc}", flush=True)
        ROWS.append((name, "cannot run", str(exc)))
        return False
    except Exception as exc:  # noqa: BLE001 - every failure is reported, the rest still runs
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"FAILED {name}: {type(exc).__name__}: {first}", flush=True)
        ROWS.append((name, "FAILED", f"{type(exc).__name__}: {first}"))
        return False
    ROWS.append((name, "ok", f"{detail} [{time.monotonic() - start:.1f} s]"))
    print(f"ok {name}: {detail}", flush=True)
    return True


def gpu(device: str) -> str:
    import torch

    if not torch.cuda.is_available():
        raise CannotRunError(f"torch {torch.__version__} sees no CUDA GPU (CUDA build: "
                        f"{torch.version.cuda or 'none, a CPU-only wheel'})")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise CannotRunError(f"{device} asked for, {torch.cuda.device_count()} GPU(s) present")
    return f"{torch.cuda.get_device_name(index)} ({device}), torch {torch.__version__}"


def export(work: Path, name: str, arch: str, size: tuple[int, int]) -> tuple[Path, Path]:
    """A seeded checkpoint of `arch` at `size` and its ONNX export (CPU; runs anywhere)."""
    import torch

    from uncertainty_seg_node.config import model_config_for
    from uncertainty_seg_node.export.onnx_export import export_onnx
    from uncertainty_seg_node.model.checkpoint import save_checkpoint
    from uncertainty_seg_node.model.segmenter import build_segmenter

    torch.manual_seed(0)
    checkpoint = save_checkpoint(work / f"{name}.pt",
                                 build_segmenter(model_config_for(arch, input_size=size)))
    onnx_path = export_onnx(checkpoint, work / f"{name}.onnx", parity=False).path
    return checkpoint, onnx_path


def parity(checkpoint: Path, candidate: Any, device: str) -> str:
    from uncertainty_seg_node.export.parity import compare_outputs, smooth_random_images
    from uncertainty_seg_node.inference.factory import load_predictor

    reference = load_predictor(checkpoint, "torch", device)
    size = tuple(reference.config.input_size)

    def run(predictor: Any) -> Callable[[Any], tuple[Any, Any]]:
        def call(batch: Any) -> tuple[Any, Any]:
            out = predictor.predict(batch[0])
            return out.class_ids, out.confidence
        return call

    report = compare_outputs(candidate.backend_name, run(reference), run(candidate),
                             smooth_random_images(size, 4, seed=1),  # type: ignore[arg-type]
                             max_confidence_diff=2e-2)
    if not report.passed:
        raise RuntimeError(report.summary())
    return (f"labels {100 * report.label_agreement:.2f} % equal to torch, confidence within "
            f"{report.confidence_max_abs_diff:.1e}")


def ort_cuda(onnx_path: Path, checkpoint: Path, device: str) -> str:
    import onnxruntime as ort

    from uncertainty_seg_node.inference.factory import load_predictor

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise CannotRunError(f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (has "
                        f"{ort.get_available_providers()}); install onnxruntime-gpu")
    predictor = load_predictor(onnx_path, "onnxruntime", device)
    used = getattr(predictor, "execution_providers", [])
    if used[:1] != ["CUDAExecutionProvider"]:
        raise RuntimeError(f"ONNX Runtime fell back to {used}")
    return f"providers {used}; " + parity(checkpoint, predictor, device)


def tensorrt(onnx_path: Path, checkpoint: Path, device: str, precision: str) -> str:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise CannotRunError(f"no TensorRT ({exc}); pip install 'uncertainty_seg_node[tensorrt]'"
                        ) from None
    from uncertainty_seg_node.inference.factory import load_predictor

    start = time.monotonic()
    first = load_predictor(onnx_path, "tensorrt", device, precision=precision)
    built_s = time.monotonic() - start
    engine: Path = first.engine_path  # type: ignore[attr-defined]
    mtime = engine.stat().st_mtime_ns
    start = time.monotonic()
    second = load_predictor(onnx_path, "tensorrt", device, precision=precision)
    again_s = time.monotonic() - start
    again: Path = second.engine_path  # type: ignore[attr-defined]
    if again != engine or engine.stat().st_mtime_ns != mtime:
        raise RuntimeError(f"second start rebuilt the engine ({engine})")
    buffers = getattr(second, "cuda_buffers", "?")  # cuda-python (no torch) or torch
    return (f"TensorRT {trt.__version__} (CUDA buffers: {buffers}): first start {built_s:.0f} s "
            f"(build), second {again_s:.1f} s (cache hit); " + parity(checkpoint, second, device))


def bench(onnx_path: Path, checkpoint: Path, device: str, size: tuple[int, int]) -> list[str]:
    from uncertainty_seg_node.bench import run_benchmark, table

    result = run_benchmark(onnx_path, ("torch", "onnxruntime", "tensorrt"), image_size=size,
                           iters=30, warmup=5, device=device, checkpoint=checkpoint)
    return table(result)


def _missing_software() -> dict[str, str]:
    """What else is missing besides the GPU: {'tensorrt' | 'onnxruntime': why}."""
    import importlib.util

    import onnxruntime as ort

    missing = {}
    if importlib.util.find_spec("tensorrt") is None:
        missing["tensorrt"] = "no TensorRT (pip install 'uncertainty_seg_node[tensorrt]')"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        missing["onnxruntime"] = (f"onnxruntime {ort.__version__} has no CUDAExecutionProvider "
                                  "(install onnxruntime-gpu)")
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    work.mkdir(parents=True, exist_ok=True)
    device = args.device
    from uncertainty_seg_node.export.delta import read_delta
    from uncertainty_seg_node.model.artifact import DEFAULT_MODEL_PATH, resolve_model_path

    default_config = read_delta(resolve_model_path(DEFAULT_MODEL_PATH)).config
    models = {"default": (default_config.arch, tuple(default_config.input_size)),
              "vits14": ("vits14", (518, 1036))}
    exported: dict[str, tuple[Path, Path]] = {}

    def do_export(name: str) -> Callable[[], str]:
        def run() -> str:
            arch, size = models[name]
            exported[name] = export(work, name, arch, size)  # type: ignore[arg-type]
            return f"{arch} at {size[0]}x{size[1]} -> {exported[name][1].name}"
        return run

    has_gpu = part("gpu", lambda: gpu(device))
    part("export default", do_export("default"))
    benches: dict[str, list[str]] = {}
    if has_gpu and "default" in exported:
        ckpt, onnx_path = exported["default"]
        part("onnxruntime cuda", lambda: ort_cuda(onnx_path, ckpt, device))
        for precision in ("fp32", "fp16"):
            part(f"tensorrt {precision}",
                 lambda p=precision: tensorrt(onnx_path, ckpt, device, p))  # type: ignore[misc]
        part("bench default", lambda: "\n".join(
            benches.setdefault("default", bench(onnx_path, ckpt, device, (480, 640)))[:1]))
        if part("export vits14", do_export("vits14")):
            v_ckpt, v_onnx = exported["vits14"]
            part("bench vits14 518x1036", lambda: "\n".join(
                benches.setdefault("vits14", bench(v_onnx, v_ckpt, device, (518, 1036)))[:1]))
    else:
        missing = _missing_software()
        for name in ("onnxruntime cuda", "tensorrt fp32", "tensorrt fp16", "bench default",
                     "bench vits14 518x1036"):
            reasons = ["no usable GPU (see the gpu line)" if not has_gpu else "export failed"]
            reasons += [why for key, why in missing.items() if key in name or
                        (name.startswith("bench") and key == "tensorrt")]
            print(f"CANNOT RUN {name}: {'; '.join(reasons)}", flush=True)
            ROWS.append((name, "cannot run", "; ".join(reasons)))

    print("\n" + f"{'part':<24}{'status':<12}detail")
    for name, status, detail in ROWS:
        print(f"{name:<24}{status:<12}{detail}")
    for name, lines in benches.items():
        print(f"\n[{name}]")
        print("\n".join(lines))
    return 0 if all(status == "ok" for _, status, _ in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
