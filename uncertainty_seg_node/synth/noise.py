"""Deterministic noise textures: smooth random tables sampled at world or sprite coordinates.

A table is a periodic 256x256 float32 field in [0, 1]; `sample` reads it at arbitrary float
coordinates through cv2.remap (bilinear, wrapping), which keeps per-pixel textures vectorised
and, in world coordinates, fixed to the world as the camera moves.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

TABLE_SIZE = 256


_BANK = 8  # distinct tables per smoothness; seeds beyond pick a table and an offset into it


@functools.lru_cache(maxsize=64)
def _table(index: int, smooth: float) -> np.ndarray:
    rng = np.random.default_rng([index, int(smooth * 100)])
    field = rng.random((TABLE_SIZE, TABLE_SIZE), dtype=np.float32)
    if smooth > 0:
        pad = int(3 * smooth) + 1
        padded = np.pad(field, pad, mode="wrap")
        blurred = np.asarray(cv2.GaussianBlur(padded, (0, 0), smooth), np.float32)
        field = blurred[pad:-pad, pad:-pad]
    lo, hi = float(field.min()), float(field.max())
    field = np.ascontiguousarray((field - lo) / max(hi - lo, 1e-6))
    field.setflags(write=False)
    return field


def table(seed: int, smooth: float) -> np.ndarray:
    """A periodic 256x256 float32 noise field in [0, 1], Gaussian-smoothed with sigma `smooth`.

    Seeds share a bank of eight tables per smoothness (pair it with `offset(seed)`).
    """
    return _table(int(seed) % _BANK, float(smooth))


def offset(seed: int) -> float:
    """A per-seed shift into a table, so seeds sharing a table read different parts of it."""
    return float((int(seed) // _BANK * 97.31) % TABLE_SIZE)


def sample(field: np.ndarray, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """Bilinear, wrapping lookup of `field` at float coordinates (in table cells)."""
    xa, ya = np.asarray(x, np.float32), np.asarray(y, np.float32)
    shape = np.broadcast_shapes(xa.shape, ya.shape)
    size = int(np.prod(shape))
    xs = np.broadcast_to(xa, shape).reshape(-1)
    ys = np.broadcast_to(ya, shape).reshape(-1)
    cols = min(max(size, 1), 4096)  # cv2.remap takes at most 32767 columns
    rows = -(-size // cols)
    if rows * cols != size:
        xs = np.concatenate([xs, np.zeros(rows * cols - size, np.float32)])
        ys = np.concatenate([ys, np.zeros(rows * cols - size, np.float32)])
    out = cv2.remap(field, np.ascontiguousarray(xs).reshape(rows, cols),
                    np.ascontiguousarray(ys).reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_WRAP)
    return np.asarray(out, np.float32).reshape(-1)[:size].reshape(shape)


def at(seed: int, smooth: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Noise of `seed` (table and offset) with smoothness `smooth` at coordinates (x, y)."""
    shift = offset(seed)
    return sample(table(seed, smooth), x + shift, y + 0.7 * shift)


def fractal(x: np.ndarray, y: np.ndarray, seed: int, octaves: int = 3) -> np.ndarray:
    """Sum of `octaves` noise layers (each twice as fine, half as strong), in about [0, 1]."""
    total = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=np.float32)
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        scale = 2.0**octave
        shift = offset(seed + octave)
        total += weight * sample(table(seed + octave, 2.0), x * scale + 17.3 * octave + shift,
                                 y * scale + 5.1 * octave + shift)
        norm += weight
        weight *= 0.5
    return total / norm


def patch(rng: np.random.Generator, height: int, width: int, cells: float,
          smooth: float = 2.0) -> np.ndarray:
    """A height x width noise image with about `cells` noise features across its width."""
    height, width = max(int(height), 1), max(int(width), 1)
    field = table(int(rng.integers(0, _BANK)), smooth)
    cw = float(np.clip(cells, 1.0, TABLE_SIZE - 2))
    ch = float(np.clip(cells * height / width, 1.0, TABLE_SIZE - 2))
    x0 = float(rng.random() * (TABLE_SIZE - 1 - cw))
    y0 = float(rng.random() * (TABLE_SIZE - 1 - ch))
    # crop [x0, x0 + cw] x [y0, y0 + ch] and stretch it to the patch: one affine warp
    matrix = np.array([[cw / width, 0, x0], [0, ch / height, y0]], np.float32)
    out = cv2.warpAffine(field, matrix, (width, height),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_WRAP)
    return np.asarray(out, np.float32)
