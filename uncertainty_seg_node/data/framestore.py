"""Random access to frames of a stream (video, bag) that was decoded once, in bounded memory.

Frames are kept PNG-encoded (lossless, level 1: fast, about 2x smaller than raw), in memory up
to `memory_mb`, then appended to one anonymous temporary file that the OS deletes when the
store is closed or the process ends. A few thousand 640x480 frames thus cost ~1-2 GB of temp disk
at most and `memory_mb` of RAM. Reads use `os.pread`, so threads and forked workers can share a
store without racing on a file offset. Each frame's digest is taken as it is stored, so the
data set's identity (data/sample.py) needs no second pass.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO

import cv2
import numpy as np

from uncertainty_seg_node.data.sample import content_digest
from uncertainty_seg_node.errors import UserError

_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]


class FrameStore:
    """An append-only list of RGB frames stored PNG-encoded; `store[i]` decodes frame i."""

    def __init__(self, memory_mb: float = 512.0) -> None:
        self.memory_budget = int(memory_mb * 1024 * 1024)
        self._memory: list[bytes] = []  # the first frames, while under budget
        self._offsets: list[tuple[int, int]] = []  # (offset, length) of spilled frames
        self._digests: list[str] = []  # of each frame's stored bytes
        self._memory_bytes = 0
        self._file: IO[bytes] | None = None
        self._file_size = 0

    def append(self, rgb: np.ndarray) -> None:
        """Store one uint8 (H, W, 3) RGB frame."""
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), _PNG_PARAMS)
        if not ok:
            raise UserError(f"could not encode a frame of shape {rgb.shape} for caching")
        data = encoded.tobytes()
        self._digests.append(content_digest(data))
        if not self._offsets and self._memory_bytes + len(data) <= self.memory_budget:
            self._memory.append(data)
            self._memory_bytes += len(data)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="useg_frames_")
        self._file.seek(self._file_size)
        self._file.write(data)
        self._file.flush()
        self._offsets.append((self._file_size, len(data)))
        self._file_size += len(data)

    def __len__(self) -> int:
        return len(self._memory) + len(self._offsets)

    def __getitem__(self, index: int) -> np.ndarray:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"frame {index} out of range (0..{n - 1})")
        if index < len(self._memory):
            data = self._memory[index]
        else:
            assert self._file is not None
            offset, length = self._offsets[index - len(self._memory)]
            data = os.pread(self._file.fileno(), length, offset)
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"cached frame {index} could not be decoded (temp file damaged?)")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def digest(self, index: int) -> str:
        """The digest of frame `index`'s stored bytes."""
        return self._digests[index]

    @property
    def bytes_in_memory(self) -> int:
        """Encoded bytes held in RAM."""
        return self._memory_bytes

    @property
    def bytes_on_disk(self) -> int:
        """Encoded bytes spilled to the temporary file."""
        return self._file_size

    def close(self) -> None:
        """Drop the frames and delete the temporary file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory.clear()
        self._offsets.clear()
        self._digests.clear()
        self._memory_bytes = self._file_size = 0
