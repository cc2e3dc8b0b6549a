"""The TensorRT backend's CUDA buffers come without torch, and fail with one clear reason.

No GPU here: what runs is the real cuda-python library refusing (no driver, no device) and the
torch fallback refusing on a CPU build, each as a UserError that says what is missing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.inference.cuda_runtime import NEEDS, open_cuda_runtime


def test_cuda_python_without_a_gpu_is_one_clear_error() -> None:
    pytest.importorskip("cuda.bindings.runtime", reason="cuda-python is not installed")
    with pytest.raises(UserError, match="needs a CUDA GPU, and CUDA finds none here "
                                        r"\(cudaGetDeviceCount: cudaError"):
        open_cuda_runtime(0)


def test_without_cuda_python_torch_is_the_fallback_and_names_both_ways() -> None:
    code = (
        "import sys\n"
        "sys.modules['cuda'] = None  # cuda-python absent\n"
        "from uncertainty_seg_node.errors import UserError\n"
        "from uncertainty_seg_node.inference.cuda_runtime import open_cuda_runtime\n"
        "try:\n"
        "    open_cuda_runtime(0)\n"
        "except UserError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    torch_cuda = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
        capture_output=True, text=True, timeout=120).stdout.strip()
    if torch_cuda == "True":
        pytest.skip("this machine has a CUDA torch: the fallback would work")
    assert "torch sees none" in message and NEEDS in message


def test_serving_the_tensorrt_backend_imports_no_torch() -> None:
    """The module the engine runs through does not import torch at load time."""
    code = ("import sys\n"
            "import uncertainty_seg_node.inference.trt_backend\n"
            "import uncertainty_seg_node.inference.cuda_runtime\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
