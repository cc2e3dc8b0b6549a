"""`uncertainty-seg calibrate`: fit gamma (and temperature), write them into the model.

Pick the model's default gamma on labelled validation data: at MaxF0.5 of 'certain =
accurate', or, with --target-precision P, the gamma with the most recall whose certain pixels
reach precision P. Optionally fit the softmax temperature by NLL (--fit-temperature). Both are
written into the model's metadata (in place, or --out).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `calibrate`."""
    arguments.add_model(parser)
    arguments.add_labelled_data(parser, help="labelled validation folder")
    parser.add_argument("--target-precision", type=float, default=None,
                        help="write the gamma reaching this precision of certain pixels "
                        "(e.g. 0.99) instead of the MaxF0.5 gamma")
    parser.add_argument("--fit-temperature", action="store_true",
                        help="also fit the softmax temperature on the validation NLL (needs "
                        "logits: a checkpoint or an ONNX file exported --with-logits)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the calibrated model here (default: rewrite --model)")
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    arguments.add_backend_device(parser)
    arguments.add_max_frames(parser)
    arguments.add_json_out(parser, help="write the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Fit, print the summary, write the calibrated model (and the JSON)."""
    from uncertainty_seg_node.calibration.gamma_search import (
        calibrate_gamma,
        jsonable,
        summary_lines,
    )
    from uncertainty_seg_node.calibration.temperature import fit_temperature_on
    from uncertainty_seg_node.data import open_labelled
    from uncertainty_seg_node.evaluation import collect_evaluator
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.model.rewrite import write_calibration

    if args.target_precision is not None and not 0.0 < args.target_precision <= 1.0:
        raise UserError(f"target precision {args.target_precision} must be in (0, 1]")
    model = Path(args.model)
    predictor: Any = load_predictor(model, backend=args.backend, device=args.device,
                                    precision=args.precision)
    dataset = open_labelled(args.data, args.classes, args.split)
    temperature = nll_before = nll_after = None
    with tempfile.TemporaryDirectory() as scratch:
        if args.fit_temperature:
            temperature, nll_before, nll_after = fit_temperature_on(
                predictor, dataset, max_frames=args.max_frames)
            if predictor.config.score_method == "temperature":
                # gamma must be chosen on the confidence the recalibrated model will output.
                predictor = _with_temperature(predictor, model, temperature, Path(scratch))
        evaluator = collect_evaluator(predictor, dataset, progress=False,
                                      max_frames=args.max_frames)
    result = calibrate_gamma(evaluator, args.target_precision)
    result.temperature, result.nll_before, result.nll_after = temperature, nll_before, nll_after
    for line in summary_lines(result):
        print(line)
    if not args.dry_run:
        record = {"data": str(args.data), "gamma_source": result.gamma_source,
                  "frames": result.frames, "pixels": result.pixels,
                  "gamma_maxf05": result.maxf05.gamma, "maxf05": result.maxf05.f05,
                  "precision": result.at_gamma.precision, "recall": result.at_gamma.recall,
                  "p_ac": result.at_gamma.p_ac, "target_precision": result.target_precision,
                  "temperature": temperature, "nll_before": nll_before, "nll_after": nll_after}
        out = write_calibration(model, args.out, gamma=result.gamma,
                                temperature=temperature, record=record)
        print(f"wrote {out}")
    if args.json is not None:
        atomic_write(args.json, jsonable(result) + "\n")
    return 0


def _with_temperature(predictor: Any, model: Path, temperature: float, scratch: Path) -> Any:
    """The same model with a new temperature: set in place (torch) or via a rewritten copy."""
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.inference.torch_backend import TorchPredictor
    from uncertainty_seg_node.model.rewrite import write_calibration

    if isinstance(predictor, TorchPredictor):
        predictor.temperature = temperature
        return predictor
    if model.suffix != ".onnx":
        raise UserError(f"{model} has its temperature compiled in; calibrate the .onnx file and "
                        "rebuild the engine from it")
    copy = write_calibration(model, scratch / model.name, temperature=temperature)
    return load_predictor(copy, backend=predictor.backend_name, device=predictor.device)
