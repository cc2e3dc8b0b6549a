"""The CUDA runtime calls the TensorRT backend needs, without torch.

TensorRT 10's Python API runs an engine on raw device addresses and a stream handle; someone must
allocate the memory and copy the frames. That is NVIDIA's `cuda-python` (`cuda.bindings.runtime`,
or `cuda.cudart` before 12.6), as in TensorRT's own samples, so a vehicle image with TensorRT and
cuda-python serves the node without torch. Where cuda-python is missing and torch (CUDA build)
is installed, torch's allocator does the same job. With neither, one error names both ways.

Every call that returns a CUDA error raises a UserError with the call and the error's name.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from uncertainty_seg_node.errors import UserError

NEEDS = ("the TensorRT backend needs CUDA buffers from NVIDIA's cuda-python (`python3 -m pip "
         "install cuda-python`, matching your CUDA major version) or from a CUDA build of torch")


class CudaRuntime(Protocol):
    """Device memory, copies and a stream on one device (what TensorRT's enqueue needs)."""

    name: str

    def identity(self) -> tuple[str, str]:
        """(GPU name, 'major.minor' compute capability)."""

    def use_device(self) -> None:
        """Make this runtime's device the calling thread's current one."""

    def stream_handle(self) -> int:
        """The stream as the integer TensorRT's execute_async_v3 takes."""

    def device_buffer(self, key: str, nbytes: int) -> int:
        """The address of a device buffer of at least nbytes, reused per key."""

    def to_device(self, address: int, host: np.ndarray) -> None:
        """Copy a contiguous host array to a device address (on the stream)."""

    def to_host(self, host: np.ndarray, address: int) -> None:
        """Copy device memory into a contiguous host array (on the stream)."""

    def synchronize(self) -> None:
        """Wait for the stream."""

    def close(self) -> None:
        """Free the buffers and the stream."""


def open_cuda_runtime(device_index: int) -> CudaRuntime:
    """cuda-python where installed, else torch's CUDA allocator, else a UserError."""
    cudart = _import_cudart()
    if cudart is not None:
        return CudaPythonRuntime(cudart, device_index)
    try:
        import torch
    except ImportError:
        raise UserError(NEEDS) from None
    return TorchCudaRuntime(torch, device_index)


def gpu_identity(device_index: int = 0) -> tuple[str, str]:
    """(GPU name, 'major.minor' compute capability) of a CUDA device (cuda-python or torch)."""
    runtime = open_cuda_runtime(device_index)
    try:
        return runtime.identity()
    finally:
        runtime.close()


def _import_cudart() -> Any:
    try:
        from cuda.bindings import runtime  # cuda-python >= 12.6

        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart  # type: ignore[attr-defined]  # cuda-python < 12.6

        return cudart
    except ImportError:
        return None


class CudaPythonRuntime:
    """cuda-python: cudaMalloc'd buffers, cudaMemcpyAsync, one non-default stream."""

    name = "cuda-python"

    def __init__(self, cudart: Any, device_index: int) -> None:
        self._rt = cudart
        self.device_index = device_index
        error, count = cudart.cudaGetDeviceCount()
        if int(error) != 0:
            raise UserError("the TensorRT backend needs a CUDA GPU, and CUDA finds none here "
                            f"(cudaGetDeviceCount: {getattr(error, 'name', error)})")
        if count <= device_index:
            raise UserError(f"the TensorRT backend asked for cuda:{device_index}, and CUDA sees "
                            f"{count} device(s)")
        self.use_device()
        (self._stream,) = self._call("cudaStreamCreate", cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # key -> (address, bytes)

    def _call(self, what: str, result: Any) -> tuple[Any, ...]:
        """Check a cuda-python result tuple (error first); the values after it."""
        error, *values = result if isinstance(result, tuple) else (result,)
        if int(error) != 0:
            raise UserError(f"CUDA {what} failed: {getattr(error, 'name', error)}")
        return tuple(values)

    def identity(self) -> tuple[str, str]:
        (props,) = self._call("cudaGetDeviceProperties",
                              self._rt.cudaGetDeviceProperties(self.device_index))
        name = props.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode()
        return str(name), f"{props.major}.{props.minor}"

    def use_device(self) -> None:
        self._call("cudaSetDevice", self._rt.cudaSetDevice(self.device_index))

    def stream_handle(self) -> int:
        return int(self._stream)

    def device_buffer(self, key: str, nbytes: int) -> int:
        address, size = self._buffers.get(key, (0, -1))
        if size >= nbytes:
            return address
        if size >= 0:
            self._call("cudaFree", self._rt.cudaFree(address))
        (pointer,) = self._call("cudaMalloc", self._rt.cudaMalloc(max(nbytes, 1)))
        self._buffers[key] = (int(pointer), nbytes)
        return int(pointer)

    def to_device(self, address: int, host: np.ndarray) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync (host to device)", self._rt.cudaMemcpyAsync(
            address, host.ctypes.data, host.nbytes, kind, self._stream))

    def to_host(self, host: np.ndarray, address: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync (device to host)", self._rt.cudaMemcpyAsync(
            host.ctypes.data, address, host.nbytes, kind, self._stream))

    def synchronize(self) -> None:
        self._call("cudaStreamSynchronize", self._rt.cudaStreamSynchronize(self._stream))

    def close(self) -> None:
        for address, _ in self._buffers.values():
            self._rt.cudaFree(address)
        self._buffers.clear()
        self._rt.cudaStreamDestroy(self._stream)


class TorchCudaRuntime:
    """torch (CUDA build): uint8 tensors as buffers, a torch stream."""

    name = "torch"

    def __init__(self, torch: Any, device_index: int) -> None:
        if not torch.cuda.is_available():
            raise UserError("the TensorRT backend needs a CUDA GPU, and torch sees none "
                            f"({NEEDS})")
        self._torch = torch
        self.device_index = device_index
        self._device = torch.device("cuda", device_index)
        self._stream = torch.cuda.Stream(device=self._device)
        self._buffers: dict[str, Any] = {}

    def identity(self) -> tuple[str, str]:
        major, minor = self._torch.cuda.get_device_capability(self.device_index)
        return self._torch.cuda.get_device_name(self.device_index), f"{major}.{minor}"

    def use_device(self) -> None:
        self._torch.cuda.set_device(self._device)

    def stream_handle(self) -> int:
        return int(self._stream.cuda_stream)

    def device_buffer(self, key: str, nbytes: int) -> int:
        tensor = self._buffers.get(key)
        if tensor is None or tensor.numel() < nbytes:
            tensor = self._torch.empty(max(nbytes, 1), dtype=self._torch.uint8,
                                       device=self._device)
            self._buffers[key] = tensor
        return int(tensor.data_ptr())

    def _tensor_at(self, address: int) -> Any:
        for tensor in self._buffers.values():
            if int(tensor.data_ptr()) == address:
                return tensor
        raise UserError(f"no device buffer at {address:#x}")

    def to_device(self, address: int, host: np.ndarray) -> None:
        source = self._torch.from_numpy(host.reshape(-1).view(np.uint8))
        with self._torch.cuda.stream(self._stream):
            self._tensor_at(address)[: host.nbytes].copy_(source, non_blocking=True)

    def to_host(self, host: np.ndarray, address: int) -> None:
        with self._torch.cuda.stream(self._stream):
            data = self._tensor_at(address)[: host.nbytes].cpu()  # waits for the stream
        host.reshape(-1).view(np.uint8)[:] = data.numpy()

    def synchronize(self) -> None:
        self._stream.synchronize()

    def close(self) -> None:
        self._buffers.clear()
