"""Compose one frame: ground and sky, then structures and objects through a depth buffer.

The result is a set of layers (albedo, labels, depth, emitted light, light sources) that
`effects.develop` turns into the camera image of a domain.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from uncertainty_seg_node.synth.anomalies import anomaly
from uncertainty_seg_node.synth.camera import Camera
from uncertainty_seg_node.synth.canvas import TRANSPARENT, Sprite
from uncertainty_seg_node.synth.domains import Domain
from uncertainty_seg_node.synth.facades import plane_sprite
from uncertainty_seg_node.synth.ground import GroundStyle, render_ground
from uncertainty_seg_node.synth.road import Plane, Thing
from uncertainty_seg_node.synth.sprites import MAKERS
from uncertainty_seg_node.synth.world import World

FAR_M = 150.0  # objects beyond this are not drawn (the skyline and haze take over)
PLANE_FAR_M = 85.0  # structures beyond this are a few pixels tall: the skyline stands in
NEAR_M = 0.8
_VEHICLES = ("car", "truck", "bus", "tram")


@dataclass
class Layers:
    """Everything a frame's image is developed from."""

    albedo: np.ndarray  # float32 (H, W, 3)
    labels: np.ndarray  # uint8 (H, W)
    depth: np.ndarray  # float32 (H, W), 1e6 for sky
    emissive: np.ndarray  # float32 (H, W, 3)
    lamps: list[tuple[float, float, float]] = field(default_factory=list)  # (x, y ground, d)


# Objects share sprites across frames and drives: an object's look is one of VARIANTS per kind
# (picked by its seed), so a training set reuses sprites instead of drawing every object anew.
VARIANTS = 24
_SPRITES: OrderedDict[tuple[object, ...], Sprite] = OrderedDict()
_SPRITE_CACHE_SIZE = 1500


def _shared_sprite(key: tuple[object, ...], make: Callable[[], Sprite]) -> Sprite:
    sprite = _SPRITES.get(key)
    if sprite is None:
        sprite = make()
        _SPRITES[key] = sprite
        if len(_SPRITES) > _SPRITE_CACHE_SIZE:
            _SPRITES.popitem(last=False)
    else:
        _SPRITES.move_to_end(key)
    return sprite


class Renderer:
    """Renders frames of one world, caching each structure's textures across frames."""

    def __init__(self, world: World, sun_side: int) -> None:
        """A renderer for `world`, lit from the left (-1) or the right (+1)."""
        self.world = world
        self.sun_side = sun_side
        self._cache: dict[tuple[object, ...], Sprite] = {}

    def _cached(self, key: tuple[object, ...], make: Callable[[], Sprite]) -> Sprite:
        value = self._cache.get(key)
        if value is None:
            value = make()
            if len(self._cache) > 400:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = value
        return value

    def _thing_sprite(self, thing: Thing, t: float, domain: Domain) -> Sprite:
        snow = round(domain.snow, 2)
        variant = thing.seed % VARIANTS
        phase = -1  # standing still; walkers show one of 8 stride phases
        if thing.kind == "person" and thing.v:
            phase = int((t * 6.0 + thing.seed % 8) % 8)
        key = (thing.kind, variant, thing.facing, snow, phase)

        def make() -> Sprite:
            rng = np.random.default_rng([variant, len(thing.kind), ord(thing.kind[-1])])
            if thing.kind.startswith("anomaly:"):
                return anomaly(rng, thing.kind.split(":", 1)[1], snow)
            stride = phase * np.pi / 4 if phase >= 0 else float(rng.uniform(0, np.pi))
            return MAKERS[thing.kind](rng, thing.facing, snow, stride)

        return _shared_sprite(key, make)

    def render(self, cam: Camera, t: float, domain: Domain, style: GroundStyle) -> Layers:
        """The layers of the frame seen by `cam` at time t in `domain`."""
        albedo, labels, depth = render_ground(self.world, cam, domain, style)
        layers = Layers(albedo, labels, depth, np.zeros_like(albedo))
        things = [(th, th.s) for seg in self.world.segments(cam.z, cam.z + FAR_M)
                  for th in seg.things]
        things += self.world.traffic(t, cam.z - 5.0, cam.z + FAR_M)
        visible = []
        for thing, z in things:
            d = z - cam.z
            if d < 1.5 or d > FAR_M:
                continue
            if abs(thing.u - cam.u) < 1.3 and d < 7.0 and thing.v:
                continue  # traffic never sits on the camera
            visible.append((d, thing))
        self._shadows(layers, cam, visible, domain)
        planes = [p for seg in self.world.segments(cam.z - 20.0, cam.z + PLANE_FAR_M)
                  for p in seg.planes]
        # an end face right behind a neighbour at least as tall and as near is never seen
        ends = {(p.side, round(p.z1, 3)): (p.u, p.height) for p in planes}
        for plane in planes:
            before = ends.get((plane.side, round(plane.z0, 3)))
            hidden = before is not None and before[0] <= plane.u and before[1] >= plane.height
            self._plane(layers, cam, plane, domain, end_face=not hidden)
        for d, thing in sorted(visible, key=lambda item: -item[0]):
            sprite = self._thing_sprite(thing, t, domain)
            self._billboard(layers, cam, sprite, thing.u, d, 1.0)
            if thing.kind == "lamp":
                head_u = thing.u - thing.facing * (sprite.width_m - 0.4)
                x, y = cam.project(head_u, 0.0, d)
                layers.lamps.append((x, y, d))
        return layers

    def _shadows(self, layers: Layers, cam: Camera, visible: list[tuple[float, Thing]],
                 domain: Domain) -> None:
        """Dark soft patches under vehicles (drawn before anything stands on the ground)."""
        strength = 0.3 + 0.25 * min(domain.sun, 1.0)
        shade = np.ones(layers.labels.shape, np.float32)
        for d, thing in visible:
            if thing.kind not in _VEHICLES:
                continue
            x, y = cam.project(thing.u, 0.0, d)
            half_w = 1.1 * cam.focal / d
            if not (-half_w < x < cam.width + half_w and y < cam.height + 5):
                continue
            axes = (max(int(half_w), 1), max(int(0.25 * cam.focal / d), 1))
            cv2.ellipse(shade, (int(x), int(y - axes[1] * 0.4)), axes, 0, 0, 360,
                        1.0 - strength, -1)
        if (shade < 1).any():
            shade = np.asarray(cv2.GaussianBlur(shade, (0, 0), 1.0), np.float32)
            layers.albedo *= shade[:, :, None]

    def _paste(self, layers: Layers, roi: tuple[int, int, int, int], rgb: np.ndarray,
               lab: np.ndarray, emit: np.ndarray | None, depth: np.ndarray | float,
               shade: float) -> None:
        x0, y0, x1, y1 = roi
        zbuf = layers.depth[y0:y1, x0:x1]
        mask = (lab != TRANSPARENT) & (depth < zbuf)
        if not mask.any():
            return
        layers.labels[y0:y1, x0:x1][mask] = lab[mask]
        layers.albedo[y0:y1, x0:x1][mask] = rgb[mask] * np.float32(shade)
        layers.emissive[y0:y1, x0:x1][mask] = emit[mask] if emit is not None else 0.0
        zbuf[mask] = depth[mask] if isinstance(depth, np.ndarray) else depth

    def _billboard(self, layers: Layers, cam: Camera, sprite: Sprite, u: float, d: float,
                   shade: float, flip: bool = False) -> None:
        """An upright sprite facing the camera at distance d."""
        scale = cam.focal / d
        ax, by = cam.project(u, sprite.lift_m, d)
        width, height = sprite.width_m * scale, sprite.height_m * scale
        if width < 0.7 or height < 0.7:
            return
        left, top = ax - sprite.anchor * width, by - height
        if flip:
            left = ax - (1 - sprite.anchor) * width
        roi = _clip(left, top, left + width, by, cam)
        if roi is None:
            return
        sh, sw = sprite.labels.shape
        sx, sy = width / sw, height / sh
        if flip:  # pixel centres: column c lands at left + width - (c + 0.5) * sx
            row0 = [-sx, 0.0, left + width - roi[0] - (sx + 1) / 2]
        else:
            row0 = [sx, 0.0, left - roi[0] + (sx - 1) / 2]
        matrix = np.array([row0, [0.0, sy, top - roi[1] + (sy - 1) / 2]], np.float32)
        size = (roi[2] - roi[0], roi[3] - roi[1])
        self._warp_paste(layers, roi, sprite, matrix, size, d, shade, affine=True)

    def _warp_paste(self, layers: Layers, roi: tuple[int, int, int, int], sprite: Sprite,
                    matrix: np.ndarray, size: tuple[int, int], depth: np.ndarray | float,
                    shade: float, affine: bool) -> None:
        warp = cv2.warpAffine if affine else cv2.warpPerspective
        rgb = warp(sprite.rgb, matrix, size, flags=cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_REPLICATE)
        lab = warp(sprite.labels, matrix, size, flags=cv2.INTER_NEAREST,
                   borderMode=cv2.BORDER_CONSTANT, borderValue=TRANSPARENT)
        emit = None
        if sprite.emissive is not None:
            emit = warp(sprite.emissive, matrix, size, flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self._paste(layers, roi, rgb, lab, emit, depth, shade)

    def _plane(self, layers: Layers, cam: Camera, plane: Plane, domain: Domain,
               end_face: bool = True) -> None:
        """A structure face along the road (perspective-warped) and its near end face."""
        d0, d1 = plane.z0 - cam.z, plane.z1 - cam.z
        if d1 < NEAR_M or d0 > PLANE_FAR_M:
            return
        near = max(d0, NEAR_M)
        face = self._plane_sprite(plane, domain, False, cam.focal / near)
        lit = -plane.side == self.sun_side
        shade = 1.0 + 0.22 * min(domain.sun, 1.2) * (1 if lit else -1)
        u_face = plane.side * plane.u
        h_px, w_px = face.labels.shape
        tx0 = w_px * (near - d0) / (d1 - d0)
        corners = [cam.project(u_face, 0.0, near), cam.project(u_face, 0.0, d1),
                   cam.project(u_face, plane.height, d1), cam.project(u_face, plane.height, near)]
        dst = np.array(corners, np.float32)
        roi = _clip(float(dst[:, 0].min()), float(dst[:, 1].min()), float(dst[:, 0].max()),
                    float(dst[:, 1].max()), cam)
        if roi is not None and abs(dst[1, 0] - dst[0, 0]) > 0.5:
            src = np.array([[tx0, h_px], [w_px, h_px], [w_px, 0], [tx0, 0]], np.float32)
            matrix = cv2.getPerspectiveTransform(src, dst - np.array([roi[0], roi[1]], np.float32))
            size = (roi[2] - roi[0], roi[3] - roi[1])
            depth = _plane_depth(dst, (near, d1, d1), roi)
            self._warp_paste(layers, roi, face, matrix, size, depth, shade, affine=False)
        if end_face and NEAR_M < d0 < 70.0 and plane.depth > 0.2:
            end = self._plane_sprite(plane, domain, True, cam.focal / d0)
            mid = u_face + plane.side * plane.depth / 2
            self._billboard(layers, cam, end, mid, d0, 0.8, flip=plane.side < 0)

    def _plane_sprite(self, plane: Plane, domain: Domain, end: bool, px_per_m: float) -> Sprite:
        """A face of a structure at about its size on screen (3.5, 7 or 14 px/m).

        Far structures are drawn coarse, and redrawn finer as they come closer.
        """
        ppm = 14.0 if px_per_m > 18.0 else 7.0 if px_per_m > 7.0 else 3.5
        key = ("plane", plane.seed, end, ppm, round(domain.snow, 2), domain.night)
        return self._cached(key, lambda: plane_sprite(plane, domain.snow, domain.night, end,
                                                      ppm))


def _plane_depth(dst: np.ndarray, dists: tuple[float, float, float],
                 roi: tuple[int, int, int, int]) -> np.ndarray:
    """Per-pixel distance over a planar quad: 1/d is affine in image coordinates."""
    x0, y0, x1, y1 = roi
    a = np.array([[dst[0, 0], dst[0, 1], 1.0], [dst[1, 0], dst[1, 1], 1.0],
                  [dst[2, 0], dst[2, 1], 1.0]])
    b = np.array([1.0 / dists[0], 1.0 / dists[1], 1.0 / dists[2]])
    try:
        coef = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.full((y1 - y0, x1 - x0), dists[0], np.float32)
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    inv = coef[0] * xs + coef[1] * ys + coef[2]
    return (1.0 / np.maximum(inv, 1e-4)).astype(np.float32)


def _clip(x0: float, y0: float, x1: float, y1: float, cam: Camera
          ) -> tuple[int, int, int, int] | None:
    """Integer pixel box of [x0, x1) x [y0, y1) inside the frame, or None if outside."""
    ix0, iy0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    ix1, iy1 = min(int(np.ceil(x1)), cam.width), min(int(np.ceil(y1)), cam.height)
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    return ix0, iy0, ix1, iy1

