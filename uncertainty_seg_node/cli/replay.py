"""`uncertainty-seg replay`: a ROS 2 bag through the model, its outputs into an MCAP bag.

Stream a ROS 2 bag (sqlite3 or MCAP; Image or CompressedImage) through the same inference
interface the node uses. Writes an MCAP bag with the input images and every topic the node
publishes (same stamps and frame ids) and, with ground truth, a report folder: metrics.json
(keys as for `evaluate`, per domain when the bag has a domain topic), frames.csv, plots and one
self-contained index.html. Ctrl-C or a truncated bag stop early; what was done is kept (valid
bag, partial report).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import resolve_gamma

# Shown after the options (as they are: the parser keeps the line breaks of its texts).
_LABEL_FOLDERS = """\
Label folders: *_gtFine_labelTrainIds.png (or *_gtFine_labelIds.png, or labels/*.png) found
recursively; matched to frames by header stamp when every file name holds one (19-digit ns, or
<sec>_<9-digit nsec>), else by index (sorted names vs bag order, counts must agree).
<stem>_anomaly.png beside a label is its OoD mask."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `replay`, and of its live mode."""
    from uncertainty_seg_node.replay.ground_truth import MATCH_MODES
    from uncertainty_seg_node.replay.replay import DEFAULT_NAMESPACE

    parser.epilog = _LABEL_FOLDERS
    parser.add_argument("--bag", help="input bag (folder, .mcap or .db3)")
    parser.add_argument("--image-topic", help="Image or CompressedImage topic")
    arguments.add_model(parser, required=False,
                        help=f"{arguments.MODEL_FILES} (--live: the node's model file, "
                        "whose classes, palette and gamma the report uses)")
    parser.add_argument("--out", help="output bag folder (MCAP); omit to only evaluate")
    arguments.add_storage(parser, "--out-storage")
    truth = parser.add_mutually_exclusive_group()
    truth.add_argument("--labels", help="Cityscapes-format label folder (see below)")
    truth.add_argument("--label-topic", help="mono8 label topic in the bag (train ids)")
    parser.add_argument("--label-match", choices=MATCH_MODES, default="auto",
                        help="how label files find their frame (default auto)")
    parser.add_argument("--anomaly-topic", default=None,
                        help="mono8 OoD mask topic (default /camera/anomaly with --label-topic "
                        "when the bag has it)")
    parser.add_argument("--domain-topic", default=None,
                        help="std_msgs/String domain topic for per-domain metrics (default "
                        "/camera/domain when present; '' to disable)")
    parser.add_argument("--report", help="report folder (metrics.json, plots, index.html)")
    arguments.add_gamma(parser, help="certainty threshold (default: the model's own)")
    arguments.add_backend_device(parser)
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                        help=f"namespace of the output topics (default {DEFAULT_NAMESPACE})")
    parser.add_argument("--no-color", action="store_true",
                        help="skip segmentation_color / confidence_color (faster, smaller)")
    parser.add_argument("--no-background", action="store_true",
                        help="write and evaluate in the main thread (for timing comparisons)")
    arguments.add_max_frames(parser)
    arguments.add_no_progress(parser)
    live = parser.add_argument_group(
        "live mode", "--live: no bag, no model run here. Subscribe to the running node's "
        "outputs (--namespace) and the --label-topic (default /camera/labels) while "
        "`ros2 bag play` runs, and write the same report on Ctrl-C / --duration / "
        "--idle-timeout. --model names the node's model (its classes, palette and gamma; "
        "--gamma if the node serves at another).")
    live.add_argument("--live", action="store_true", help="evaluate the running node")
    live.add_argument("--duration", type=float, default=None,
                      help="stop S seconds after the start, whatever arrives")
    live.add_argument("--idle-timeout", type=float, default=None,
                      help="stop when no message arrived for S seconds (counted from the "
                      "start until the first one)")
    live.add_argument("--ros-domain-id", type=int, default=None,
                      help="ROS domain id (default: $ROS_DOMAIN_ID)")


def run(args: argparse.Namespace) -> int:
    """Replay, write the report, print a summary; exit 1 when stopped early, 2 on bad input."""
    from uncertainty_seg_node.optional_deps import require

    if args.report or args.live:  # the report's figures; checked before any frame is read
        require(["matplotlib"], "replay --report")
    if str(args.model or "").endswith(".pt") or args.backend == "torch":
        require(["torch"], "replay of a PyTorch checkpoint")
    if args.live:
        return run_live_mode(args)
    for flag in ("bag", "image_topic", "model"):
        if getattr(args, flag) is None:
            raise UserError(f"--{flag.replace('_', '-')} is required (except with --live)")
    from uncertainty_seg_node.inference.factory import load_predictor
    from uncertainty_seg_node.replay.replay import ReplayOptions, replay
    from uncertainty_seg_node.replay.report import write_report
    from uncertainty_seg_node.visualize import OUTPUT_ENCODINGS

    if args.out is None and args.report is None:
        raise UserError("nothing to write: give --out OUT.mcap and/or --report DIR")
    if args.out is not None and Path(args.out).exists():
        raise UserError(f"output bag {args.out} already exists; remove it or choose another path")
    if not Path(args.bag).exists():
        raise UserError(f"bag {args.bag} does not exist")
    outputs = tuple(OUTPUT_ENCODINGS)
    if args.no_color:
        outputs = tuple(o for o in outputs if not o.endswith("_color"))
    options = ReplayOptions(
        bag=Path(args.bag), image_topic=args.image_topic,
        out=Path(args.out) if args.out else None, out_storage=args.out_storage,
        labels=Path(args.labels) if args.labels else None, label_match=args.label_match,
        label_topic=args.label_topic, anomaly_topic=args.anomaly_topic,
        domain_topic=args.domain_topic, gamma=args.gamma, namespace=args.namespace,
        outputs=outputs, max_frames=args.max_frames, progress=not args.no_progress,
        background=not args.no_background,
    )
    predictor = load_predictor(Path(args.model), backend=args.backend, device=args.device,
                               precision=args.precision)
    result = replay(predictor, options)
    facts = {"model_file": str(args.model), **result.facts()}
    if args.report:
        write_report(args.report, result.evaluation, facts=facts, warnings=result.warnings,
                     title=f"Replay of {Path(args.bag).name}")
    print(summary(result, facts, args.report, args.out), file=sys.stderr)
    labels_given = bool(args.labels or args.label_topic)
    if labels_given and result.frames and result.labelled_frames == 0 and not result.stopped:
        raise UserError(
            "no frame found its ground truth (timestamps or counts mismatch); "
            + (result.warnings[-1] if result.warnings else "check --labels / --label-topic"))
    if result.stopped:
        print(f"error: stopped early: {result.stopped}; what was processed is kept",
              file=sys.stderr)
        return 130 if result.interrupted else 1
    return 0


def run_live_mode(args: argparse.Namespace) -> int:
    """`replay --live`: evaluate the running node's topics, write the report on exit."""
    from uncertainty_seg_node.config import ModelConfig
    from uncertainty_seg_node.replay.evaluation import ReplayEvaluation
    from uncertainty_seg_node.replay.live import LiveOptions, write_live_report

    if args.report is None:
        raise UserError("--live needs --report DIR")
    if args.bag or args.labels or args.out:
        raise UserError("--live evaluates the running node: --bag, --labels and --out do not "
                        "apply (play the bag with `ros2 bag play`)")
    if args.model is None:
        raise UserError("--live needs --model M, the model file the node serves: the report "
                        "takes its classes, palette and gamma from it (and --gamma G when the "
                        "node runs at another gamma)")
    from uncertainty_seg_node.inference.factory import load_predictor

    config: ModelConfig = load_predictor(Path(args.model), backend=args.backend,
                                         device=args.device, precision=args.precision).config
    gamma = resolve_gamma(args.gamma, config.default_gamma)
    evaluation = ReplayEvaluation(config.num_classes, config.palette,
                                  class_names=config.class_names,
                                  ignore_index=config.ignore_index, gamma=gamma)
    domain_topic = "/camera/domain" if args.domain_topic is None else (args.domain_topic or None)
    options = LiveOptions(
        namespace=args.namespace, label_topic=args.label_topic or "/camera/labels",
        anomaly_topic=args.anomaly_topic, domain_topic=domain_topic,
        image_topic=args.image_topic, gamma=gamma, duration_s=args.duration,
        idle_timeout_s=args.idle_timeout, domain_id=args.ros_domain_id)
    from uncertainty_seg_node.ros_drivers.live import run_live

    print(f"listening, gamma {gamma:.3f} (Ctrl-C writes the report) ...", file=sys.stderr)
    facts = {"model_file": str(args.model), "gamma": gamma, **run_live(evaluation, options)}
    write_live_report(evaluation, facts, args.report)
    metrics = evaluation.metrics()
    print(f"live: {facts['frames']} frames evaluated ({facts['stopped']}); "
          f"MaxF0.5 {_f(metrics.get('maxf05'))} @ {_f(metrics.get('p_ac_at_maxf05'))}, "
          f"AUPR {_f(metrics.get('aupr'))}; wrote {args.report}/index.html", file=sys.stderr)
    return 0


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def summary(result: Any, facts: dict[str, Any], report: str | None, out: str | None) -> str:
    """A few lines: frames, throughput, key metrics, where things went."""
    ms = facts["ms_per_frame"]
    lines = [
        f"replayed {result.frames} frames ({result.labelled_frames} labelled) in "
        f"{facts['wall_s']:.1f} s: {_f(facts['frames_per_s'], 1)} frames/s, "
        f"{_f(100 * facts['share_outside_predict'], 1)}% of the time outside predict "
        f"(read {_f(ms['read'], 1)}, predict {_f(ms['predict'], 1)}, write {_f(ms['write'], 1)},"
        f" evaluate {_f(ms['evaluate'], 1)} ms/frame)",
    ]
    metrics = result.evaluation.metrics()
    if metrics:
        lines.append(
            f"MaxF0.5 {_f(metrics['maxf05'])} @ p(a,c) {_f(metrics['p_ac_at_maxf05'])}, AUPR "
            f"{_f(metrics['aupr'])}, AUROC {_f(metrics['auroc'])}, FPR95 {_f(metrics['fpr95'])}, "
            f"ECE {_f(metrics['ece'])}, mIoU {_f(metrics['miou'])}")
        for name, values in metrics.get("domains", {}).items():
            lines.append(f"  {name:>12}: MaxF0.5 {_f(values['maxf05'])} @ "
                         f"{_f(values['p_ac_at_maxf05'])}, AUPR {_f(values['aupr'])}, "
                         f"mIoU {_f(values['miou'])}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    if out:
        lines.append(f"wrote {out} ({result.output_messages} messages)")
    if report:
        lines.append(f"wrote {report}/metrics.json and {report}/index.html")
    return "\n".join(lines)
