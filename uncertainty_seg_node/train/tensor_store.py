"""Tensors by key in bounded memory: the first `memory_mb` in RAM, the rest in files on disk.

The training caches (the frozen encoder's features, the teacher's logits) hold one tensor per
sample the run draws: about 1.2 MB of features and 1.7 MB of logits per 168x224 view for
ViT-S/14, so a 400-step run of 8 + 8 views would hold ~14 GB if every entry stayed in RAM.
Here entries go to RAM until `memory_mb` is used, then to an anonymous temporary file the OS
deletes when the store is closed or the process ends (as data/framestore.py keeps frames), and
are read back with `os.pread`. The bytes round-trip exactly, so the caches stay exact; the page
cache the kernel keeps of the file is not the process's memory and is given back under
pressure.

A store can also index a cache file written by `append_records` (one record per entry: a
4-byte header length, a JSON header with key, dtype and shape, the raw bytes), whose entries are
then read from that file on demand instead of being loaded. Records are appended under an
exclusive lock, so runs that share one file never interleave; a record cut short by a crash
is ignored when the file is read.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch
from torch import Tensor

from uncertainty_seg_node.errors import UserError

Key = tuple[str, ...]
MAGIC = b"uncertainty_seg_node/tensor-records/1\n"
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class _Slot:
    """Where one entry's bytes lie in a file."""

    fd: int
    offset: int
    nbytes: int
    dtype: str
    shape: tuple[int, ...]


def _to_bytes(tensor: Tensor) -> bytes:
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def _from_bytes(data: bytes, dtype: str, shape: tuple[int, ...]) -> Tensor:
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    return raw.view(getattr(torch, dtype)).reshape(shape)


def _dtype_name(tensor: Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


class TensorStore:
    """`store[key]` / `store.put(key, tensor)`; RAM up to `memory_mb`, then a temporary file."""

    def __init__(self, memory_mb: float) -> None:
        self.memory_budget = int(memory_mb * 2**20)
        self._ram: dict[Key, Tensor] = {}
        self._disk: dict[Key, _Slot] = {}
        self._spill: IO[bytes] | None = None
        self._spill_size = 0
        self._files: list[IO[bytes]] = []  # cache files indexed by `index_file`
        self.bytes_in_memory = 0
        self.bytes_on_disk = 0  # written to the temporary file by this store

    def __len__(self) -> int:
        return len(self._ram) + len(self._disk)

    def __contains__(self, key: object) -> bool:
        return key in self._ram or key in self._disk

    def keys(self) -> Iterator[Key]:
        """Every key held, in RAM or on disk."""
        yield from self._ram
        yield from self._disk

    def get(self, key: Key) -> Tensor | None:
        """The tensor stored under `key` (a CPU tensor), or None."""
        held = self._ram.get(key)
        if held is not None:
            return held
        slot = self._disk.get(key)
        if slot is None:
            return None
        return _from_bytes(os.pread(slot.fd, slot.nbytes, slot.offset), slot.dtype, slot.shape)

    def put(self, key: Key, tensor: Tensor) -> None:
        """Keep a CPU copy of `tensor` under `key` (a key already held is left as it is)."""
        if key in self:
            return
        nbytes = tensor.numel() * tensor.element_size()
        if self.bytes_in_memory + nbytes <= self.memory_budget:
            self._ram[key] = tensor.detach().to("cpu", copy=True)
            self.bytes_in_memory += nbytes
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="useg_tensors_")
        data = _to_bytes(tensor)
        os.pwrite(self._spill.fileno(), data, self._spill_size)
        self._disk[key] = _Slot(self._spill.fileno(), self._spill_size, len(data),
                                _dtype_name(tensor), tuple(tensor.shape))
        self._spill_size += len(data)
        self.bytes_on_disk += len(data)

    def index_file(self, path: str | Path) -> int:
        """Index the records of a file written by `append_records`; returns how many are new.

        Their bytes stay in the file and are read when asked for.
        """
        handle = Path(path).open("rb")
        try:
            records = list(_read_index(handle, path))
        except UserError:
            handle.close()
            raise
        self._files.append(handle)
        added = 0
        for key, slot in records:
            if key not in self:
                self._disk[key] = slot
                added += 1
        return added

    def close(self) -> None:
        """Drop every entry and close (and so delete) the temporary file."""
        for handle in [*self._files, *([self._spill] if self._spill is not None else [])]:
            handle.close()
        self._files.clear()
        self._spill = None
        self._ram.clear()
        self._disk.clear()
        self.bytes_in_memory = self.bytes_on_disk = self._spill_size = 0


def append_records(path: str | Path, store: TensorStore, keys: Iterable[Key]) -> int:
    """Append the entries of `keys` to the record file `path` (created if missing).

    One entry is in memory at a time; the file is locked while it grows. Returns the count.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if handle.tell() == 0:
                handle.write(MAGIC)
            for key in keys:
                tensor = store.get(key)
                if tensor is None:
                    continue
                data = _to_bytes(tensor)
                header = json.dumps({"key": list(key), "dtype": _dtype_name(tensor),
                                     "shape": list(tensor.shape), "nbytes": len(data)}).encode()
                handle.write(_LENGTH.pack(len(header)) + header)
                handle.write(data)
                written += 1
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return written


def _read_index(handle: IO[bytes], path: str | Path) -> Iterator[tuple[Key, _Slot]]:
    fd = handle.fileno()
    size = os.fstat(fd).st_size
    if os.pread(fd, len(MAGIC), 0) != MAGIC:
        raise UserError(f"{path} is not a cache file written by this version; delete it")
    offset = len(MAGIC)
    while offset + _LENGTH.size <= size:
        (length,) = _LENGTH.unpack(os.pread(fd, _LENGTH.size, offset))
        start = offset + _LENGTH.size + length
        if start > size:
            return  # a header cut short: the end of a crashed append
        try:
            header = json.loads(os.pread(fd, length, offset + _LENGTH.size))
            slot = _Slot(fd, start, int(header["nbytes"]), str(header["dtype"]),
                         tuple(int(v) for v in header["shape"]))
            key = tuple(str(part) for part in header["key"])
        except (ValueError, KeyError, TypeError):
            raise UserError(f"cache file {path} is damaged at byte {offset}; delete it") from None
        if start + slot.nbytes > size:
            return  # bytes cut short
        yield key, slot
        offset = start + slot.nbytes
