"""The CPU a model runs on: its name and the instruction sets that decide which precision wins.

Read from /proc/cpuinfo (Linux). Only the flags in `DECIDING_FLAGS` are kept: they say whether
int8 dot products run in 8 bits without saturating (VNNI: AVX512-VNNI, AVX-VNNI or AMX-INT8;
without it OpenVINO's int8 kernels add 8-bit products in 16 bits, which saturates unless the
weights are 7-bit, NNCF's `overflow_fix`), and whether bf16 has hardware (AVX512-BF16, AMX). A
speed figure means little without them: the same model's best precision differs between an
AVX2-only CPU and an AMX Xeon.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DECIDING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile",
                  "amx_int8", "amx_bf16")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """A CPU's name and which of `DECIDING_FLAGS` it has."""

    model: str
    flags: frozenset[str]

    @property
    def int8_vnni(self) -> bool:
        """Whether int8 dot products run in 8 bits without saturating (VNNI or AMX)."""
        return any(flag in self.flags for flag in VNNI_FLAGS)

    def isa(self) -> str:
        """The deciding flags, space-separated ('none' when it has none of them)."""
        return " ".join(flag for flag in DECIDING_FLAGS if flag in self.flags) or "none"

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model,
                "isa": [flag for flag in DECIDING_FLAGS if flag in self.flags],
                "int8_vnni": self.int8_vnni}


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor's model name and deciding flags from /proc/cpuinfo's text."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split()) & frozenset(DECIDING_FLAGS)
    return CpuInfo(model or platform.processor() or platform.machine(), flags)


@functools.lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    """The CPU of the machine it runs on (no flags where /proc/cpuinfo cannot be read)."""
    try:
        return parse_cpuinfo(CPUINFO.read_text())
    except OSError:
        return CpuInfo(platform.processor() or platform.machine(), frozenset())


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded (None where the OS has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine_facts() -> dict[str, Any]:
    """What a speed figure must carry: the CPU, its deciding flags, the CPUs and the load now."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return {"cpu": cpu_info().to_dict(), "cpus": cpus, "load_average": load_average(),
            "platform": platform.platform()}
