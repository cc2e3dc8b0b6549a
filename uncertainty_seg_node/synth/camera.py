"""The ego camera: a pinhole at fixed height above a gently curving road.

A point at road coordinates (u across, y up, z along) lies d = z - camera z ahead; the road
centre there is shifted sideways by curvature * d^2 / 2, so straight-line drawing with a
per-point offset approximates the curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Intrinsics and pose of one frame."""

    height: int
    width: int
    focal: float  # pixels
    cx: float
    horizon: float  # image row of the horizon
    z: float  # position along the road
    u: float  # position across the road
    curvature: float  # 1/m, + bends right
    heading: float  # radians, for the far sky and skyline
    cam_h: float = 1.45  # metres above the road

    def offset(self, d: np.ndarray | float) -> np.ndarray | float:
        """Sideways shift of the road at distance d caused by the curve."""
        return 0.5 * self.curvature * np.square(d)

    def project(self, u: float, y: float, d: float) -> tuple[float, float]:
        """Image (x, y) of road point (u across, y metres up) at distance d > 0."""
        x_m = u - self.u + float(self.offset(d))
        return (self.cx + self.focal * x_m / d, self.horizon + self.focal * (self.cam_h - y) / d)

    def ground_coords(self, first_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(distance, u, z) of the road plane seen by pixels in rows first_row..height-1."""
        ys = np.arange(first_row, self.height, dtype=np.float32)[:, None] + np.float32(0.5)
        d = self.focal * self.cam_h / np.maximum(ys - self.horizon, 1e-2)
        d = np.minimum(d, 5000.0).astype(np.float32)
        xs = np.arange(self.width, dtype=np.float32)[None, :] + np.float32(0.5)
        x_m = (xs - self.cx) * d / self.focal
        u = x_m + self.u - self.offset(d)
        d_full = np.broadcast_to(d, u.shape).astype(np.float32)
        return d_full, u.astype(np.float32), (self.z + d_full).astype(np.float32)


def make_camera(height: int, width: int, z: float, u: float, curvature: float, heading: float,
                pitch_px: float = 0.0) -> Camera:
    """A camera with a driving-camera field of view (about 64 degrees across)."""
    focal = 0.8 * width
    return Camera(height, width, focal, width / 2.0, 0.44 * height + pitch_px, z, u, curvature,
                  heading)
