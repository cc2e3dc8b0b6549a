"""TrainConfig: the one dataclass behind `uncertainty-seg train task|uncertainty`.

Values come from, in order: the dataclass defaults, `config/train_<mode>.yaml` (or `--config`),
`--set key=value`, then the explicit command-line flags. Unknown keys are a UserError.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from uncertainty_seg_node.config import ENCODER_SIZES, load_yaml_config
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.losses.consistency import CERTAINTY_FROM, LC_GUARDS
from uncertainty_seg_node.model.mask_token import MASK_TOKEN_MODES

MODES = ("task", "uncertainty")
SCHEDULES = ("cosine", "poly", "constant")
AMP_MODES = ("auto", "bf16", "off")


@dataclass
class TrainConfig:
    """Everything one training run needs (step 2 `task` or step 3 `uncertainty`)."""

    mode: str = "task"
    # --- data ---
    data: str = ""  # labelled source-domain folder
    classes: str | None = None  # class-map YAML for generic image/label folders
    split: str | None = None  # split of the labelled folder (None: the loader's default)
    unlabelled: str | None = None  # target-domain images: folder, video or ROS 2 bag (uncertainty)
    unlabelled_topic: str | None = None  # image topic when `unlabelled` is a bag
    # Which target frames (data/unlabelled.py): skip the first `unlabelled_start`, then every
    # `unlabelled_stride`-th, at most `unlabelled_max_frames` (None: all).
    unlabelled_start: int = 0
    unlabelled_stride: int = 1
    unlabelled_max_frames: int | None = None
    teacher: str | None = None  # f_theta: checkpoint (.pt) or delta file (uncertainty)
    # The backbone file of a delta file given as teacher or init (None: the installed one).
    backbone: str | None = None
    out: str = ""  # checkpoint to write; logs go beside it
    # --- model ---
    model: str = "tiny"
    size: tuple[int, int] | None = None  # network input H, W (x14); None: teacher's or 224x448
    init: str | None = None  # encoder weights: DINOv2 .pth, HF folder, ONNX, delta file
    init_from_teacher: bool = False  # f_phi's encoder starts as f_theta's (an extra variant)
    init_decoder_from_teacher: bool = False  # f_phi's decoder starts as f_theta's
    freeze_encoder: bool = False  # E*: train the decoder only
    # Partial fine-tuning: the top N encoder blocks (and the final LayerNorm) train, the blocks
    # below stay frozen (and cacheable). None: the whole encoder trains unless freeze_encoder.
    train_blocks: int | None = None
    dropout: float = 0.0  # decoder Dropout2d (MC-dropout baseline)
    # Reuse frozen encoders' features (exact; needs E* or --train-blocks, and inputs that repeat:
    # no augmentation, or the view bank), optionally kept in a file across runs
    # (train/feature_cache.py).
    cache_features: bool = False
    feature_cache_file: str | None = None
    # RAM for each of the run's caches (features, teacher logits); the rest spills to a
    # temporary file, so memory stays bounded however many samples a run draws.
    cache_memory_mb: float = 1024.0
    # --- optimisation ---
    steps: int = 1000
    batch_size: int = 8  # labelled images per step (per process)
    unlabelled_batch_size: int = 0  # target images per step (0: same as batch_size)
    lr: float = 3e-4  # decoder learning rate (AdamW)
    encoder_lr_scale: float | None = None  # encoder lr = lr * scale; None: 0.1 with init, else 1
    weight_decay: float = 0.05
    warmup_steps: int = 50
    schedule: str = "cosine"  # after warmup: cosine | poly | constant
    poly_power: float = 0.9
    min_lr_ratio: float = 0.01  # the schedule's floor, as a fraction of the peak lr
    grad_clip: float = 1.0  # max global grad norm (0: off)
    seed: int = 0
    # Random zoom/crop/flip of source and target images alike (targets only zoom in, never pad);
    # `photometric` adds brightness/contrast/saturation/hue/gamma (data/photometric.py); without
    # `augment` it does nothing.
    augment: bool = True
    photometric: bool = False
    # The view bank (data/view_bank.py): each image has `view_bank_size` fixed augmented views,
    # so a frozen encoder's features of every view are computed once (0: a new random view every
    # draw, which no cache can reuse). The bank's own seed: two run seeds share one bank.
    view_bank_size: int = 0
    view_bank_seed: int = 0
    # --- the uncertainty loss (METHOD.md) ---
    p_mask: float = 0.5
    sharpen_T: float = 0.5  # noqa: N815 (the paper's name)
    consistency_temperature: float = 1.0
    certainty_from: str = "unmasked"  # unmasked (paper) | masked (authors' code)
    loss_weight: float = 1.0  # w_c
    lc_guard: str = "none"  # none (Eq. 3) | teacher_margin (losses/consistency.py)
    gamma_ema_decay: float = 0.99
    mask_token: str = "auto"  # auto | weights | mean | zero | learned (model/mask_token.py)
    mask_bank_size: int = 0  # K masks per target image (0: a fresh mask every step)
    fresh_mask_every: int = 50  # log consistency on fresh masks vs the bank's every N steps
    lc_start_step: int = 0  # L_c is off before this step ...
    lc_ramp_steps: int = 0  # ... then its weight ramps linearly to w_c over this many steps
    # --- running ---
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16 on CUDA) | bf16 | off
    checkpoint_every: int = 0  # save every N steps (0: at the end only)
    # Also keep a copy every N steps as OUT.stepN.pt (0: none): the checkpoints an early stop
    # is chosen from, on frames held out of both training and the final measurement.
    keep_every: int = 0
    log_every: int = 1  # log-file rows every N steps
    resume: bool = False
    quiet: bool = False
    # Filled in by the CLI, kept for provenance.
    command: list[str] = field(default_factory=list)

    @property
    def target_batch_size(self) -> int:
        return self.unlabelled_batch_size or self.batch_size

    @property
    def uses_feature_cache(self) -> bool:
        """Whether the run keeps frozen encoder features (`--feature-cache-file` implies it)."""
        return self.cache_features or bool(self.feature_cache_file)

    @property
    def inputs_repeat(self) -> bool:
        """Whether an image reaches the network as the same tensor each time it is drawn."""
        return not self.augment or self.view_bank_size > 0

    @property
    def trains_encoder_part(self) -> bool:
        """Whether some encoder blocks train while the ones below stay frozen."""
        return self.train_blocks is not None and self.train_blocks > 0

    def lc_weight(self, step: int) -> float:
        """w_c at `step`: 0 before `lc_start_step`, then a linear ramp to `loss_weight`."""
        if step < self.lc_start_step:
            return 0.0
        if self.lc_ramp_steps <= 0:
            return self.loss_weight
        return self.loss_weight * min(1.0, (step - self.lc_start_step + 1) / self.lc_ramp_steps)

    def encoder_lr(self) -> float:
        scale = self.encoder_lr_scale
        if scale is None:
            scale = 0.1 if (self.init or self.init_from_teacher) else 1.0
        return self.lr * scale

    def validate(self) -> None:
        """Check every value a user can get wrong; raise UserError saying what to fix."""
        _check_types(self)
        if self.mode not in MODES:
            raise UserError(f"mode {self.mode!r} is not one of {MODES}")
        if not self.data:
            raise UserError("no labelled data: give --data DIR")
        if not self.out:
            raise UserError("no output checkpoint: give --out FILE")
        if self.model not in ENCODER_SIZES:
            raise UserError(f"unknown model {self.model!r}; choose one of {sorted(ENCODER_SIZES)}")
        if self.mode == "uncertainty":
            if not self.teacher:
                raise UserError("train uncertainty needs the f_theta checkpoint: --teacher CKPT")
            if not self.unlabelled:
                raise UserError(
                    "train uncertainty needs target-domain images: --unlabelled DIR_OR_BAG"
                )
        if self.size is not None and (
            len(self.size) != 2 or not all(isinstance(v, int) and v > 0 for v in self.size)
        ):
            raise UserError(f"size {self.size!r} must be HxW, two positive integers")
        if self.steps <= 0:
            raise UserError(f"steps must be positive, got {self.steps}")
        if self.keep_every < 0:
            raise UserError(f"keep_every must be 0 (off) or a step count, got {self.keep_every}")
        if self.batch_size <= 0 or self.unlabelled_batch_size < 0:
            raise UserError("batch sizes must be positive")
        if self.lr <= 0:
            raise UserError(f"lr must be positive, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise UserError(f"schedule {self.schedule!r} is not one of {SCHEDULES}")
        if self.amp not in AMP_MODES:
            raise UserError(f"amp {self.amp!r} is not one of {AMP_MODES}")
        if not 0.0 <= self.p_mask <= 1.0:
            raise UserError(f"p_mask must be in [0, 1], got {self.p_mask}")
        if self.sharpen_T <= 0 or self.consistency_temperature <= 0:
            raise UserError("sharpen_T and consistency_temperature must be positive")
        if self.certainty_from not in CERTAINTY_FROM:
            raise UserError(
                f"certainty_from {self.certainty_from!r} is not one of {CERTAINTY_FROM}"
            )
        if self.lc_guard not in LC_GUARDS:
            raise UserError(f"lc_guard {self.lc_guard!r} is not one of {LC_GUARDS}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.gamma_ema_decay < 1.0:
            raise UserError(f"gamma_ema_decay must be in [0, 1), got {self.gamma_ema_decay}")
        if self.train_blocks is not None and self.train_blocks < 0:
            raise UserError(f"train_blocks must be >= 0, got {self.train_blocks}")
        if self.freeze_encoder and self.trains_encoder_part:
            raise UserError("give either --freeze-encoder or --train-blocks N > 0, not both")
        if self.unlabelled_start < 0 or self.unlabelled_stride < 1:
            raise UserError("unlabelled_start must be >= 0 and unlabelled_stride >= 1")
        if self.unlabelled_max_frames is not None and self.unlabelled_max_frames < 1:
            raise UserError(
                f"unlabelled_max_frames must be >= 1, got {self.unlabelled_max_frames}")
        if self.mask_bank_size < 0 or self.fresh_mask_every < 0:
            raise UserError("mask_bank_size and fresh_mask_every must be >= 0")
        if self.lc_start_step < 0 or self.lc_ramp_steps < 0:
            raise UserError("lc_start_step and lc_ramp_steps must be >= 0")
        if self.mask_token not in MASK_TOKEN_MODES:
            raise UserError(f"mask_token {self.mask_token!r} is not one of {MASK_TOKEN_MODES}")
        if self.cache_memory_mb < 0:
            raise UserError(f"cache_memory_mb must be >= 0, got {self.cache_memory_mb}")
        if self.view_bank_size < 0:
            raise UserError(f"view_bank_size must be >= 0, got {self.view_bank_size}")
        if self.uses_feature_cache:
            if not self.inputs_repeat:
                raise UserError(
                    "--cache-features with --augment needs the view bank (--view-bank-size K): "
                    "a fresh random view every draw never repeats an input, so no feature could "
                    "be reused; or add --no-cache-features (and drop --feature-cache-file)"
                )
            frozen_part = self.freeze_encoder or self.train_blocks is not None
            if self.mode == "task" and not frozen_part:
                raise UserError(
                    "--cache-features needs --freeze-encoder (E*) or --train-blocks N: a "
                    "training encoder's features change every step; to fine-tune the whole "
                    "encoder, add --no-cache-features (and drop --feature-cache-file)"
                )
        if self.init_from_teacher and self.init:
            raise UserError("give either --init or init_from_teacher, not both")
        from_teacher = self.init_from_teacher or self.init_decoder_from_teacher
        if from_teacher and self.mode != "uncertainty":
            raise UserError("init_from_teacher options only apply to `train uncertainty`")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_types(config: TrainConfig) -> None:
    """A YAML or `--set` value of the wrong type (e.g. `steps=abc`) is a UserError."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint = hints[f.name]
        is_union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        allowed = typing.get_args(hint) if is_union else (hint,)
        if value is None and type(None) in allowed:
            continue
        ok = False
        for kind in allowed:
            origin = typing.get_origin(kind) or kind
            if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                ok = True
            elif origin is int and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            elif origin in (str, bool, list, tuple) and isinstance(value, origin):
                ok = True
        if not ok:
            raise UserError(
                f"TrainConfig key {f.name!r} has value {value!r}; expected {hints[f.name]}"
            )


def default_config_path(mode: str, model: str | None = None) -> Path | None:
    """The recipe file of `mode` for `model`, in the package's share directory (share.py).

    `config/train_<mode>_<model>.yaml` when the model has its own recipe (the pretrained ViTs),
    else `config/train_<mode>.yaml`.
    """
    from uncertainty_seg_node.share import package_share_dir

    folder = package_share_dir() / "config"
    names = ([f"train_{mode}_{model}.yaml"] if model else []) + [f"train_{mode}.yaml"]
    return next((folder / name for name in names if (folder / name).is_file()), None)


def _requested_model(overrides: list[str], flags: dict[str, Any]) -> str | None:
    """The model a command line asks for (`--model` beats `--set model=...`)."""
    if flags.get("model"):
        return str(flags["model"])
    for item in reversed(overrides):
        key, _, value = item.partition("=")
        if key.strip() == "model" and value.strip():
            return value.strip()
    return None


def resolve_train_config(
    mode: str,
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> tuple[TrainConfig, dict[str, str]]:
    """Defaults < YAML (given, or the recipe of the mode and model) < `--set` < explicit flags.

    Without `--config`, a model with its own recipe (`config/train_<mode>_<model>.yaml`, e.g.
    vits14) gets that recipe's steps, caches and batch sizes; the others get
    `config/train_<mode>.yaml`. Returns the config and where each value that is not the
    dataclass default came from: `recipe <file name>`, `--set` and `flag` (and
    `--train-blocks` for the encoder a `--train-blocks N` unfreezes), so a user sees which
    recipe value they have to turn off (e.g. `freeze_encoder: true (recipe
    train_task_vits14.yaml)`).
    """
    overrides, flags = list(overrides or []), dict(flags or {})
    if config_path is None:
        config_path = default_config_path(mode, _requested_model(overrides, flags))
    config = load_yaml_config(TrainConfig, config_path, overrides)
    config.mode = mode
    unknown = sorted(set(flags) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise UserError(f"unknown TrainConfig flag(s) {unknown}")
    sources: dict[str, str] = {}
    if config_path is not None:
        recipe = f"recipe {Path(config_path).name}"
        sources.update(dict.fromkeys(_yaml_keys(Path(config_path)), recipe))
    sources.update(dict.fromkeys((item.partition("=")[0].strip() for item in overrides),
                                 "--set"))
    for key, value in flags.items():
        if value is not None:
            setattr(config, key, value)
            sources[key] = "flag"
    if flags.get("train_blocks") and flags.get("freeze_encoder") is None:
        config.freeze_encoder = False  # an explicit --train-blocks N beats a recipe's E*
        sources["freeze_encoder"] = "--train-blocks"
    if isinstance(config.size, list):
        config.size = tuple(config.size)  # type: ignore[assignment]
    if isinstance(config.size, str):
        from uncertainty_seg_node.config import parse_size

        config.size = parse_size(config.size)
    sources.pop("mode", None)
    return config, sources


def _yaml_keys(path: Path) -> list[str]:
    loaded = yaml.safe_load(path.read_text()) or {}
    return [str(key) for key in loaded] if isinstance(loaded, dict) else []


def describe_config(config: TrainConfig, sources: dict[str, str]) -> str:
    """The resolved config as `key: value (source)` lines: every value not at its default."""
    defaults = TrainConfig()
    lines = []
    for f in dataclasses.fields(config):
        if f.name in ("mode", "command"):
            continue
        value = getattr(config, f.name)
        if f.name not in sources and value == getattr(defaults, f.name):
            continue
        shown = yaml.safe_dump(_plain(value), default_flow_style=True).strip()
        shown = shown.removesuffix("\n...").strip()
        lines.append(f"  {f.name}: {shown}  ({sources.get(f.name, 'computed')})")
    return "\n".join(lines)


def saved_config_path(out: str | Path) -> Path:
    """`<out stem>.config.yaml` beside the checkpoint (as the logs: `<out stem>.log.jsonl`)."""
    base = Path(out).with_suffix("")
    return base.with_name(base.name + ".config.yaml")


def config_yaml(config: TrainConfig, sources: dict[str, str]) -> str:
    """The whole resolved config as YAML that `--config` reads back, its sources as comments."""
    header = [f"# resolved TrainConfig of `train {config.mode}`; `--config` this file to rerun",
              "# with the same values. Values not at their defaults came from:"]
    header += [f"#   {key}: {source}" for key, source in sorted(sources.items())]
    body = {k: _plain(v) for k, v in config.to_dict().items() if k != "command"}
    return "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
