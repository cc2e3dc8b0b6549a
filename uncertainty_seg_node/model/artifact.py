"""The model file: its kinds, where it is found, the metadata it carries, and its checks.

Kinds: checkpoints (.pt/.pth/.ckpt), ONNX files (.onnx) and TensorRT engines (.engine/.plan),
told apart by suffix. A relative model path is looked up in the package share directory, then
the working directory.

Every exported model carries its ModelConfig and how it was exported. An ONNX file keeps both
as JSON strings in `metadata_props` (readable through ONNX Runtime's `custom_metadata_map`, so
loading a model never needs the `onnx` package). A TensorRT engine cannot hold them, so they
travel in a sidecar JSON beside it (`<engine>.json`), together with the engine's cache key.
The rewriting of a model's defaults (calibration) is in `model/rewrite.py`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uncertainty_seg_node.atomic import atomic_write
from uncertainty_seg_node.config import ModelConfig, from_dict
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.jsonfile import read_json_object
from uncertainty_seg_node.share import package_share_dir

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan")
DELTA_SUFFIXES = (".safetensors",)  # export/delta.py: assembled with its backbone on first use
# The default model path stands for the pretrained default (a delta file) where the package
# ships one; the tiny ONNX serves until then (docs/default_model.md).
DEFAULT_MODEL_PATH = "models/default.delta.safetensors"
# The first release's default; configs that name it get the current default where it ships.
LEGACY_DEFAULT_MODEL_PATH = "models/default.onnx"

CONFIG_KEY = "uncertainty_seg_node.config"
EXPORT_KEY = "uncertainty_seg_node.export"
QUANTIZED_KEY = "uncertainty_seg_node.quantized"  # set by export/quantize.py (ONNX Runtime int8)
ONNX_FORMAT = "uncertainty_seg_node/onnx/v1"
SIDECAR_FORMAT = "uncertainty_seg_node/engine/v1"

INPUT_NAME = "image"
OUTPUT_IDS = "class_ids"
OUTPUT_CONFIDENCE = "confidence"
OUTPUT_LOGITS = "logits"


def output_names(with_logits: bool) -> list[str]:
    """The exported graph's outputs in their order: ids, confidence[, logits]."""
    return [OUTPUT_IDS, OUTPUT_CONFIDENCE] + ([OUTPUT_LOGITS] if with_logits else [])
TEMPERATURE_INITIALIZER = "temperature"


@dataclass
class ExportInfo:
    """How a model file was produced and what its graph computes."""

    format: str = ONNX_FORMAT
    score_method: str = "msp"
    temperature: float = 1.0
    energy_sigma: float = 0.0
    with_logits: bool = False
    ids_dtype: str = "uint8"
    confidence_dtype: str = "float32"
    input_size: tuple[int, int] = (224, 448)
    dynamic_batch: bool = True
    opset: int = 17
    torch_version: str = ""
    checkpoint: str = ""
    checkpoint_sha256: str = ""
    parity: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExportInfo:
        return from_dict(cls, json.loads(text), where="export metadata")


def metadata_props(config: ModelConfig, info: ExportInfo) -> dict[str, str]:
    """The key -> JSON string pairs stored in an exported model (no absolute paths)."""
    config, info = shippable(config, info)
    return {CONFIG_KEY: config.to_json(), EXPORT_KEY: info.to_json()}


def shippable(config: ModelConfig, info: ExportInfo) -> tuple[ModelConfig, ExportInfo]:
    """Config and export info with every absolute path made portable (`portable_path`).

    A model file is shipped to other machines and must not carry this one's folders.
    """
    provenance = portable_value(config.provenance)
    return (dataclasses.replace(config, provenance=provenance),
            dataclasses.replace(info, checkpoint=portable_value(info.checkpoint)))


_ABSOLUTE = re.compile(r"(?<![^\s='\"])/[^\s'\"]+")


def portable_value(value: Any) -> Any:
    """`value` (JSON-like) with every absolute path inside its strings made portable."""
    if isinstance(value, str):
        return _ABSOLUTE.sub(lambda match: portable_path(match.group(0)), value)
    if isinstance(value, dict):
        return {key: portable_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(portable_value(item) for item in value)
    return value


def parse_metadata(props: dict[str, str], source: str | Path) -> tuple[ModelConfig, ExportInfo]:
    """ModelConfig and ExportInfo back from `metadata_props` (e.g. ORT's custom_metadata_map)."""
    if CONFIG_KEY not in props or EXPORT_KEY not in props:
        raise UserError(
            f"{source} has no uncertainty_seg_node metadata (keys {CONFIG_KEY!r}, "
            f"{EXPORT_KEY!r}); make the model with "
            "`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx`"
        )
    try:
        config = ModelConfig.from_json(props[CONFIG_KEY])
        info = ExportInfo.from_json(props[EXPORT_KEY])
    except (ValueError, TypeError) as exc:
        raise UserError(f"{source} has unreadable metadata ({exc}); re-export it") from None
    if info.format != ONNX_FORMAT:
        raise UserError(f"{source} has export format {info.format!r}; expected {ONNX_FORMAT}")
    return config, info


def set_onnx_metadata(model_proto: Any, config: ModelConfig, info: ExportInfo) -> None:
    """Write (or replace) our keys in an `onnx.ModelProto`'s metadata_props, in place."""
    props = metadata_props(config, info)
    kept = [p for p in model_proto.metadata_props if p.key not in props]
    del model_proto.metadata_props[:]
    for prop in kept:
        model_proto.metadata_props.append(prop)
    for key, value in props.items():
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = key, value


def read_onnx_metadata(path: str | Path) -> tuple[ModelConfig, ExportInfo]:
    """Read the metadata of an ONNX file through ONNX Runtime (no `onnx` package needed)."""
    return parse_metadata(read_onnx_props(path), path)


def read_onnx_props(path: str | Path) -> dict[str, str]:
    """An ONNX file's `metadata_props`, read through ONNX Runtime."""
    import onnxruntime as ort

    path = Path(path)
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises several private exception types
        raise corrupt_model_error(path, exc) from None
    return dict(session.get_modelmeta().custom_metadata_map)


def model_kind(path: Path) -> str:
    """'checkpoint', 'onnx', 'engine' or 'delta' from the file suffix."""
    suffix = path.suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES:
        return "checkpoint"
    if suffix in ONNX_SUFFIXES:
        return "onnx"
    if suffix in ENGINE_SUFFIXES:
        return "engine"
    if suffix in DELTA_SUFFIXES:
        return "delta"
    raise UserError(
        f"model file {path} has an unknown type {suffix or '(no suffix)'!r}; expected a "
        f"checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}), an ONNX file (.onnx), a TensorRT "
        f"engine ({', '.join(ENGINE_SUFFIXES)}) or a delta file (.delta.safetensors)"
    )


def resolve_model_path(path: str | Path, share_dir: Path | None = None) -> Path:
    """An absolute model path; a relative one is looked up in the share dir, then the cwd."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    share = share_dir if share_dir is not None else package_share_dir()
    legacy = candidate.as_posix() == LEGACY_DEFAULT_MODEL_PATH
    if legacy and (share / DEFAULT_MODEL_PATH).is_file():
        return share / DEFAULT_MODEL_PATH
    in_share = share / candidate
    if in_share.exists() or not candidate.exists():
        return in_share
    return candidate.resolve()


def portable_path(path: str | Path) -> str:
    """A path fit to ship inside a model file.

    Relative to the working directory when it lies below it, else only the file name (a
    recorded hash identifies the file).
    """
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.name


def check_model_file(path: Path) -> None:
    """A missing model file -> UserError naming the path and how to make one."""
    if not path.exists():
        raise UserError(
            f"model file {path} does not exist; make one with `uncertainty-seg export "
            f"--checkpoint CKPT --onnx {path.with_suffix('.onnx')} --size HxW` (or train a "
            "checkpoint with `uncertainty-seg train ...`)"
        )
    if not path.is_file():
        raise UserError(f"model path {path} is not a file")


def find_checkpoint_for(onnx_path: str | Path | ModelFile) -> Path | None:
    """The checkpoint an exported model came from, or None.

    The path recorded in its metadata (relative to the working directory, or to the model's
    folder) when that file still exists with the recorded hash, else a sibling
    `<stem>.pt|.pth|.ckpt`.
    """
    try:
        source = model_file(onnx_path)
        _, info = source.metadata()
    except UserError:
        info = None
    path = onnx_path.path if isinstance(onnx_path, ModelFile) else Path(onnx_path)
    if info is not None and info.checkpoint:
        for recorded in (Path(info.checkpoint), path.parent / info.checkpoint):
            if recorded.is_file() and file_sha256(recorded) == info.checkpoint_sha256:
                return recorded
    for suffix in CHECKPOINT_SUFFIXES:
        sibling = path.with_suffix(suffix)
        if sibling.is_file():
            return sibling
    return None


@dataclass(frozen=True)
class ModelFile:
    """A model file read once: its path, its kind, its metadata and SHA-256 (on first use).

    Handed from the resolution of a model path down to the backend, so no layer reads the file
    again for what another already read.
    """

    path: Path
    kind: str  # checkpoint | onnx | engine | delta

    @functools.cached_property
    def props(self) -> dict[str, str]:
        """An ONNX file's `metadata_props`, read once ({} for the other kinds)."""
        return read_onnx_props(self.path) if self.kind == "onnx" else {}

    @functools.cached_property
    def sha256(self) -> str:
        """The file's SHA-256, hashed once."""
        return file_sha256(self.path)

    def metadata(self) -> tuple[ModelConfig, ExportInfo]:
        """An ONNX file's ModelConfig and ExportInfo (a UserError when it has none)."""
        return parse_metadata(self.props, self.path)

    @property
    def quantized(self) -> bool:
        """Whether it is ONNX Runtime's dynamic int8 graph (`uncertainty-seg quantize`)."""
        return QUANTIZED_KEY in self.props


def model_file(path: str | Path | ModelFile) -> ModelFile:
    """The file at `path` (taken as given), checked and typed."""
    if isinstance(path, ModelFile):
        return path
    path = Path(path)
    kind = model_kind(path)
    check_model_file(path)
    return ModelFile(path, kind)


def corrupt_model_error(path: Path, exc: BaseException) -> UserError:
    """The error for a model file that cannot be loaded (a missing one gets the missing error)."""
    try:
        check_model_file(path)
    except UserError as missing:
        return missing
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return UserError(
        f"model file {path} is corrupt or not a model ({reason}); re-create it with "
        "`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx --size HxW`"
    )


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(engine_path: str | Path) -> Path:
    """Where an engine's metadata lives: `<engine>.json`."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def write_sidecar(
    engine_path: str | Path, config: ModelConfig, info: ExportInfo, cache: dict[str, Any]
) -> Path:
    """Write an engine's sidecar JSON (config, export info, cache key) atomically."""
    config, info = shippable(config, info)
    payload = {
        "format": SIDECAR_FORMAT,
        "config": json.loads(config.to_json()),
        "export": json.loads(info.to_json()),
        "cache": cache,
    }
    path = sidecar_path(engine_path)
    atomic_write(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def read_sidecar(engine_path: str | Path) -> tuple[ModelConfig, ExportInfo, dict[str, Any]]:
    """An engine's ModelConfig, ExportInfo and cache record from its sidecar JSON."""
    path = sidecar_path(engine_path)
    payload = read_json_object(
        path, fix="rebuild the engine",
        missing=f"engine {engine_path} has no metadata file {path}; rebuild it with "
        "`uncertainty-seg export --checkpoint CKPT --onnx OUT.onnx --tensorrt OUT.engine`",
    )
    try:
        if payload.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"format {payload.get('format')!r}, expected {SIDECAR_FORMAT}")
        config = ModelConfig.from_dict(payload["config"])
        info = from_dict(ExportInfo, payload["export"], where="export metadata")
        cache = dict(payload["cache"])
    except (ValueError, KeyError, TypeError, UserError) as exc:
        raise UserError(
            f"engine metadata {path} is unreadable ({exc}); rebuild the engine"
        ) from None
    return config, info, cache

