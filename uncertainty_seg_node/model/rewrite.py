"""Rewrite a model file's defaults (gamma, temperature) and record why, in place or to a copy.

Checkpoints (the config inside the torch payload), ONNX files (metadata_props and the
`temperature` initializer), TensorRT engines (their sidecar JSON) and delta files (the config in
their safetensors metadata; the assembled ONNX is rebuilt from the changed file) are supported;
every write is atomic.
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from uncertainty_seg_node.atomic import atomic_target, atomic_write
from uncertainty_seg_node.config import ModelConfig
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.gamma import check_gamma
from uncertainty_seg_node.model.artifact import (
    TEMPERATURE_INITIALIZER,
    model_kind,
    parse_metadata,
    read_sidecar,
    set_onnx_metadata,
    write_sidecar,
)


def write_calibration(
    model_path: str | Path,
    out_path: str | Path | None = None,
    *,
    gamma: float | None = None,
    temperature: float | None = None,
    record: dict[str, Any] | None = None,
) -> Path:
    """Write a new default gamma / temperature (and a provenance record) into a model file.

    `out_path=None` rewrites the file in place (atomically). Checkpoints, ONNX files and
    engines (sidecar JSON) are supported; an engine's baked-in temperature cannot change.
    """
    model_path = Path(model_path)
    out = Path(out_path) if out_path is not None else model_path
    if gamma is not None:
        check_gamma(gamma)
    if temperature is not None and not temperature > 0:
        raise UserError(f"temperature must be > 0, got {temperature}")
    if out != model_path and model_kind(out) != model_kind(model_path):
        raise UserError(f"--out {out} must have the same file type as {model_path}")
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    entry = {**(record or {}), "written": stamp}

    def updated(config: ModelConfig) -> ModelConfig:
        changes: dict[str, Any] = {"provenance": {**config.provenance, "calibration": entry}}
        if gamma is not None:
            changes["default_gamma"] = float(gamma)
        if temperature is not None:
            changes["temperature"] = float(temperature)
        return dataclasses.replace(config, **changes)

    kind = model_kind(model_path)
    if kind == "checkpoint":
        _write_checkpoint(model_path, out, updated)
    elif kind == "delta":
        _write_delta(model_path, out, updated)
    elif kind == "onnx":
        _write_onnx(model_path, out, updated, temperature)
    else:
        _write_engine(model_path, out, updated, temperature)
    return out


def _write_checkpoint(path: Path, out: Path, updated: Any) -> None:
    from uncertainty_seg_node.model.checkpoint import atomic_torch_save, read_checkpoint_payload

    payload = read_checkpoint_payload(path)
    payload["config"] = updated(ModelConfig.from_json(payload["config"])).to_json()
    atomic_torch_save(payload, out)


def _write_delta(path: Path, out: Path, updated: Any) -> None:
    """The delta's tensors as they are, its config metadata replaced."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import save_file

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path} is corrupt or not a safetensors file ({exc})") from None
    if "config" not in metadata:
        raise UserError(f"{path} is not an uncertainty_seg_node delta file (no config)")
    metadata["config"] = updated(ModelConfig.from_json(metadata["config"])).to_json()
    with atomic_target(out) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def _write_onnx(path: Path, out: Path, updated: Any, temperature: float | None) -> None:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise UserError("rewriting ONNX metadata needs the `onnx` package "
                        "(`pip install onnx`)") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - protobuf decode errors vary
        raise UserError(f"{path} is not a readable ONNX file ({exc})") from None
    config, info = parse_metadata({p.key: p.value for p in model.metadata_props}, path)
    if temperature is not None and info.score_method == "temperature":
        found = [i for i in model.graph.initializer if i.name == TEMPERATURE_INITIALIZER]
        if not found:
            raise UserError(f"{path} has no `{TEMPERATURE_INITIALIZER}` initializer; re-export "
                            "it with `--score temperature --temperature T`")
        found[0].CopyFrom(numpy_helper.from_array(np.array(temperature, np.float32),
                                                  TEMPERATURE_INITIALIZER))
        info = dataclasses.replace(info, temperature=float(temperature))
    set_onnx_metadata(model, updated(config), info)
    atomic_write(out, model.SerializeToString())


def _write_engine(path: Path, out: Path, updated: Any, temperature: float | None) -> None:
    config, info, cache = read_sidecar(path)
    if temperature is not None and info.score_method == "temperature":
        raise UserError(f"{path} has its temperature compiled in; calibrate the .onnx file and "
                        "rebuild the engine from it")
    if out != path:
        shutil.copyfile(path, out)
    write_sidecar(out, updated(config), info, cache)
