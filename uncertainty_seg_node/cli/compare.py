"""`uncertainty-seg compare`: f_phi against f_theta's scores, MC dropout and an ensemble.

On the same labelled frames (a dataset folder or a bag with a label topic), evaluate the
uncertainty-trained model f_phi (max softmax, one pass) against the supervised model f_theta
with max softmax, MaxLogit, entropy, energy and temperature scaling, MC dropout (N passes) and a
deep ensemble (M checkpoints). Writes one table like the paper's Tables I / II (MaxF0.5 @
p(a,c), AUPR, AUROC, FPR95, ECE, mIoU) with each method's measured cost per frame and passes,
per domain when there are several.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `compare`."""
    arguments.add_labelled_data(
        parser, help="labelled dataset folder, or a ROS 2 bag with a label topic")
    arguments.add_model(parser, help=f"f_phi, the uncertainty-trained model: "
                        f"{arguments.MODEL_FILES}")
    parser.add_argument("--baseline", type=Path,
                        help="f_theta: the supervised model (checkpoint, .onnx or delta file; "
                        "temperature scaling and MC dropout need the checkpoint)")
    parser.add_argument("--ensemble", default="",
                        help="comma-separated checkpoints of a deep ensemble (>= 2)")
    parser.add_argument("--mc-dropout-passes", type=int, default=0,
                        help="MC dropout on f_theta with N passes (0: off)")
    parser.add_argument("--mc-dropout-p", type=float, default=None,
                        help="test-time dropout rate (default: the checkpoint's, or 0.1 when it "
                        "was trained without dropout)")
    parser.add_argument("--temperature-from",
                        help="labelled validation folder to fit f_theta's temperature on")
    parser.add_argument("--temperature", type=float, default=None,
                        help="use this temperature instead of fitting one")
    arguments.add_json_out(parser, help="write all figures here")
    parser.add_argument("--markdown", type=Path, help="write the tables here (Markdown)")
    arguments.add_bag_topics(parser)
    arguments.add_gamma(parser, help="gamma for the at-gamma figures (default: from MaxF0.5)")
    arguments.add_max_frames(parser)
    arguments.add_backend_device(parser)
    arguments.add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    """Build the methods, run them on every frame, write JSON + Markdown, print the table."""
    from uncertainty_seg_node.optional_deps import require

    checkpoints = [p for p in (args.model, args.baseline, *args.ensemble.split(","))
                   if p and str(p).strip().endswith(".pt")]
    if checkpoints or args.mc_dropout_passes:  # checked before any frame is read
        require(["torch"], "compare with PyTorch checkpoints")
    from uncertainty_seg_node.metrics import to_jsonable
    from uncertainty_seg_node.replay.compare import (
        build_methods,
        comparison_results,
        markdown_tables,
        run_comparison,
    )
    from uncertainty_seg_node.replay.frames import open_frames

    for flag in ("model", "baseline"):
        value = getattr(args, flag)
        if value is not None and not Path(value).exists():
            raise UserError(f"--{flag} {value} does not exist")
    ensemble = [Path(p) for p in args.ensemble.split(",") if p.strip()]
    for member in ensemble:
        if not member.exists():
            raise UserError(f"ensemble member {member} does not exist")
    needs_baseline = args.mc_dropout_passes or args.temperature_from or args.temperature
    if needs_baseline and args.baseline is None:
        raise UserError("MC dropout and temperature scaling run on --baseline; pass it")

    temperature, note = args.temperature, ""
    if temperature is not None and temperature <= 0:
        raise UserError(f"--temperature must be > 0, got {temperature}")
    if args.temperature_from and temperature is None:
        temperature, note = fit_baseline_temperature(args.baseline, args.temperature_from,
                                                     args.classes, args.device)
    methods = build_methods(
        Path(args.model), args.baseline, ensemble=ensemble,
        mc_dropout_passes=args.mc_dropout_passes, mc_dropout_p=args.mc_dropout_p,
        temperature=temperature, temperature_note=note, device=args.device,
        backend=args.backend, precision=args.precision,
    )
    frame_set = open_frames(
        args.data, image_topic=args.image_topic, label_topic=args.label_topic,
        domain_topic=args.domain_topic, classes_yaml=args.classes, split=args.split,
        max_frames=args.max_frames, num_classes=methods[0].predictor.config.num_classes,
    )
    frames = run_comparison(methods, frame_set.frames, gamma=args.gamma,
                            progress=not args.no_progress, total=frame_set.count)
    results = comparison_results(methods, frames, {"data": frame_set.description})
    table = markdown_tables(results)
    if args.json:
        atomic_write(args.json, json.dumps(to_jsonable(results), indent=2) + "\n")
    if args.markdown:
        atomic_write(args.markdown, table)
    print(table)
    for path in (args.json, args.markdown):
        if path:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def fit_baseline_temperature(baseline: Path, valdir: str, classes: str | None,
                             device: str) -> tuple[float, str]:
    """T minimising f_theta's NLL on a labelled validation folder (and a note saying so)."""
    from uncertainty_seg_node.calibration.temperature import fit_temperature_on
    from uncertainty_seg_node.data import open_labelled
    from uncertainty_seg_node.inference.factory import load_predictor

    predictor = load_predictor(baseline, "torch", device, "msp")
    dataset = open_labelled(valdir, classes_yaml=classes)
    temperature, nll_before, nll_after = fit_temperature_on(predictor, dataset)
    note = (f"f_theta, T fitted on {valdir} ({len(dataset)} frames): NLL {nll_before:.3f} -> "
            f"{nll_after:.3f}")
    print(f"temperature {temperature:.3f} ({note})", file=sys.stderr)
    return temperature, note
