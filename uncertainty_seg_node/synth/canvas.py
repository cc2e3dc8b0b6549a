"""Sprites and the canvas they are drawn on: colour, class labels and light drawn in one go.

Sprite coordinates are metres, x to the right from the sprite's left edge and y up from its
bottom, so object code reads like the object's measurements. Labels outside the drawn shapes
are TRANSPARENT; the renderer pastes only the drawn pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from uncertainty_seg_node.synth import noise

TRANSPARENT = 254
_SHIFT = 3  # sub-pixel bits for cv2 drawing
Color = tuple[float, float, float]


@dataclass
class Sprite:
    """A drawn object: albedo, labels (TRANSPARENT outside), emitted light, size in metres.

    `anchor` is the fraction of the width at the object's position (0.5: centred); `lift_m`
    raises the sprite's bottom above the ground.
    """

    rgb: np.ndarray  # float32 (h, w, 3) in [0, 1]
    labels: np.ndarray  # uint8 (h, w)
    emissive: np.ndarray | None  # float32 (h, w, 3) or None
    width_m: float
    height_m: float
    lift_m: float = 0.0
    anchor: float = 0.5


class Canvas:
    """Draws shapes in metres onto albedo, label and emissive layers of a sprite."""

    def __init__(self, width_m: float, height_m: float, ppm: float) -> None:
        """An empty canvas of width_m x height_m metres at `ppm` pixels per metre."""
        self.width_m, self.height_m, self.ppm = width_m, height_m, ppm
        self.w = max(2, round(width_m * ppm))
        self.h = max(2, round(height_m * ppm))
        self.rgb = np.zeros((self.h, self.w, 3), dtype=np.float32)
        self.labels = np.full((self.h, self.w), TRANSPARENT, dtype=np.uint8)
        self.emissive: np.ndarray | None = None

    def _pts(self, points: Sequence[tuple[float, float]]) -> np.ndarray:
        scale = self.ppm * (1 << _SHIFT)
        arr = np.asarray(points, dtype=np.float64)
        cols = arr[:, 0] * scale
        rows = (self.height_m - arr[:, 1]) * scale
        return np.stack([cols, rows], axis=1).round().astype(np.int32)

    def _emit(self) -> np.ndarray:
        if self.emissive is None:
            self.emissive = np.zeros_like(self.rgb)
        return self.emissive

    def poly(self, points: Sequence[tuple[float, float]], color: Color, label: int,
             emit: Color | None = None) -> None:
        """A filled polygon."""
        pts = [self._pts(points)]
        cv2.fillPoly(self.rgb, pts, color, cv2.LINE_8, _SHIFT)
        if label != TRANSPARENT:
            cv2.fillPoly(self.labels, pts, int(label), cv2.LINE_8, _SHIFT)
        if emit is not None:
            cv2.fillPoly(self._emit(), pts, emit, cv2.LINE_8, _SHIFT)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color, label: int,
             emit: Color | None = None) -> None:
        """A filled axis-aligned rectangle between corners (x0, y0) and (x1, y1)."""
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color, label, emit)

    def ellipse(self, x: float, y: float, rx: float, ry: float, color: Color, label: int,
                emit: Color | None = None, angle: float = 0.0) -> None:
        """A filled ellipse centred at (x, y) with radii rx, ry (metres), rotated by `angle`."""
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        ex, ey = rx * np.cos(t), ry * np.sin(t)
        self.poly(list(zip(x + c * ex - s * ey, y + s * ex + c * ey)), color, label, emit)

    def line(self, x0: float, y0: float, x1: float, y1: float, width_m: float, color: Color,
             label: int) -> None:
        """A thick straight segment."""
        dx, dy = x1 - x0, y1 - y0
        length = max(np.hypot(dx, dy), 1e-6)
        nx, ny = -dy / length * width_m / 2, dx / length * width_m / 2
        self.poly([(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny),
                   (x0 - nx, y0 - ny)], color, label)

    def ring(self, x: float, y: float, r: float, width_m: float, color: Color,
             label: int) -> None:
        """A circle outline (wheels, tyres)."""
        t = np.linspace(0, 2 * np.pi, 25)
        for a, b in zip(t[:-1], t[1:]):
            self.line(x + r * np.cos(a), y + r * np.sin(a), x + r * np.cos(b),
                      y + r * np.sin(b), width_m, color, label)

    def mask(self, label: int) -> np.ndarray:
        """Pixels currently holding `label`."""
        return self.labels == label

    def texture(self, rng: np.random.Generator, strength: float, cells: float = 6.0,
                where: np.ndarray | None = None) -> None:
        """Multiply the albedo by smooth noise (1 +- strength), only `where` if given."""
        field = noise.patch(rng, self.h, self.w, cells)
        fine = noise.patch(rng, self.h, self.w, self.w / 3.0, smooth=1.0)
        factor = 1.0 + strength * (1.2 * (field - 0.5) + 0.8 * (fine - 0.5))
        if where is not None:
            factor = np.where(where, factor, 1.0)
        self.rgb *= factor[:, :, None]

    def gradient(self, top: float, bottom: float) -> None:
        """Vertical light falloff: multiply rows by a ramp from `bottom` to `top`."""
        ramp = np.linspace(top, bottom, self.h, dtype=np.float32)
        self.rgb *= ramp[:, None, None]

    def snow_cap(self, rng: np.random.Generator, amount: float, label: int,
                 depth_m: float = 0.12) -> None:
        """Whiten the upper edge of every shape labelled `label` (snow lying on top)."""
        if amount <= 0:
            return
        solid = (self.labels == label).astype(np.uint8)
        depth = max(1, round(depth_m * self.ppm))
        shifted = np.zeros_like(solid)
        shifted[depth:] = solid[:-depth]
        top = (solid == 1) & (shifted == 0)
        patchy = noise.patch(rng, self.h, self.w, self.w / 6.0) < 0.35 + 0.6 * amount
        white = np.float32(0.9) + 0.08 * noise.patch(rng, self.h, self.w, 20.0)[..., None]
        self.rgb = np.where((top & patchy)[..., None], white, self.rgb).astype(np.float32)

    def sprite(self, lift_m: float = 0.0, anchor: float = 0.5) -> Sprite:
        """The finished sprite (albedo clipped to [0, 1])."""
        np.clip(self.rgb, 0.0, 1.0, out=self.rgb)
        return Sprite(self.rgb, self.labels, self.emissive, self.width_m, self.height_m,
                      lift_m, anchor)


def jitter(rng: np.random.Generator, color: Color, amount: float = 0.08) -> Color:
    """A colour varied per instance (brightness and a little hue)."""
    scale = 1.0 + amount * (2 * rng.random() - 1)
    c = np.asarray(color) * scale + amount * 0.5 * (rng.random(3) - 0.5)
    return tuple(float(v) for v in np.clip(c, 0.0, 1.0))  # type: ignore[return-value]


def pick(rng: np.random.Generator, colors: Sequence[Color], amount: float = 0.08) -> Color:
    """One of `colors`, jittered."""
    return jitter(rng, colors[int(rng.integers(len(colors)))], amount)
