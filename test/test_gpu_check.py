"""tools/gpu_check.sh on a machine without a GPU: one clear line per part it cannot run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_names_every_part_it_cannot_run(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: run tools/gpu_check.sh itself")
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "gpu_check.sh"), "--work", str(tmp_path)],
        env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    cannot = [line for line in lines if line.startswith("CANNOT RUN ")]
    assert [line.split(":")[0] for line in cannot] == [
        "CANNOT RUN gpu", "CANNOT RUN onnxruntime cuda", "CANNOT RUN tensorrt fp32",
        "CANNOT RUN tensorrt fp16", "CANNOT RUN bench default",
        "CANNOT RUN bench vits14 518x1036"]
    assert "sees no CUDA GPU" in cannot[0]
    if "tensorrt" not in sys.modules:
        assert "no TensorRT" in cannot[2]
    assert any(line.startswith("ok export default") for line in lines)  # the CPU part ran
    assert any(line.startswith("part ") and "status" in line for line in lines)  # the table
    assert "Traceback" not in done.stdout + done.stderr
