"""Light, weather and camera: develop a frame's layers into the 8-bit image of its domain."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth.camera import Camera
from uncertainty_seg_node.synth.domains import Domain
from uncertainty_seg_node.synth.render import Layers

SODIUM = np.array([1.0, 0.62, 0.28], np.float32)
HEADLAMP = np.array([1.0, 0.95, 0.85], np.float32)


def _night_light(layers: Layers, cam: Camera, domain: Domain) -> np.ndarray:
    """Light falling on each pixel at night: ambient, street-lamp pools, the ego headlights."""
    H, W = layers.labels.shape
    ambient = np.float32(domain.exposure) * np.array(domain.tint, np.float32)
    pools = np.zeros((H, W), np.float32)
    for x, y, d in layers.lamps:
        rx = 7.0 * cam.focal / d
        ry = max(cam.focal * cam.cam_h * 7.0 / (d * d), 2.0)
        if -rx < x < W + rx and y < H + ry:
            cv2.ellipse(pools, (int(x), int(y)), (int(rx), int(ry)), 0, 0, 360, 1.0, -1)
    pools = cv2.GaussianBlur(pools, (0, 0), max(W / 60.0, 1.0)) * np.float32(1.1)
    depth = np.minimum(layers.depth, 200.0)
    xs = (np.arange(W, dtype=np.float32)[None, :] - cam.cx) * depth / cam.focal
    ys = np.arange(H, dtype=np.float32)[:, None]
    height = cam.cam_h - (ys - cam.horizon) * depth / cam.focal
    beam = 1.5 * np.exp(-depth / 14.0) * np.exp(-np.square(xs / (0.8 + 0.22 * depth)))
    beam *= np.clip(1.8 - height, 0.0, 1.0)
    light = ambient + pools[..., None] * SODIUM + beam[..., None] * HEADLAMP
    return light.astype(np.float32)


def _glow(emissive: np.ndarray, width: int) -> np.ndarray:
    near = cv2.GaussianBlur(emissive, (0, 0), max(width / 200.0, 0.8))
    wide = cv2.GaussianBlur(emissive, (0, 0), max(width / 60.0, 2.0))
    return near * 0.9 + wide * 0.7


def _flakes(img: np.ndarray, rng: np.random.Generator, per_1000: float) -> None:
    H, W = img.shape[:2]
    count = int(per_1000 * H * W / 1000.0)
    alpha = np.zeros((H, W), np.float32)
    scale = W / 448.0
    xs, ys = rng.random(count) * W, rng.random(count) * H
    sizes = np.minimum(rng.pareto(3.0, count) * 0.8 + 0.5, 3.0) * scale
    for x, y, r in zip(xs, ys, sizes):
        cv2.ellipse(alpha, (int(x), int(y)), (max(int(r), 1), max(int(r * 1.6), 1)), 0, 0, 360,
                    float(min(1.0, 0.5 + 0.2 * r)), -1)
    alpha = np.asarray(cv2.GaussianBlur(alpha, (0, 0), 0.7), np.float32)
    img[:] = img * (1 - alpha[..., None]) + np.float32(0.92) * alpha[..., None]


@functools.lru_cache(maxsize=4)
def _vignette(H: int, W: int) -> np.ndarray:
    xx = (np.arange(W, dtype=np.float32)[None, :] - W / 2) / (W / 2)
    yy = (np.arange(H, dtype=np.float32)[:, None] - H / 2) / (H / 2)
    return (1.0 - 0.12 * (np.square(xx) + np.square(yy))).astype(np.float32)


def develop(layers: Layers, cam: Camera, domain: Domain, rng: np.random.Generator,
            look: np.ndarray) -> np.ndarray:
    """uint8 RGB image of the layers in `domain`; `look` = per-drive (exposure, r, g, b) gains."""
    H, W = layers.labels.shape
    sky = layers.labels == L.SKY
    gains = np.float32(look[0]) * look[1:4].astype(np.float32)
    if domain.night:
        light = _night_light(layers, cam, domain)
        img = layers.albedo * light + layers.emissive * 0.8
        img[sky] = layers.albedo[sky]
        img += _glow(layers.emissive, W)
    else:
        tint = np.float32(domain.exposure) * np.array(domain.tint, np.float32)
        img = layers.albedo * tint + layers.emissive * 0.3
    img *= gains
    # aerial perspective / fog: everything but the sky fades towards the haze colour
    trans = np.exp(-np.minimum(layers.depth, 1e4) / np.float32(domain.visibility_m))
    trans = np.where(sky, 1.0, trans).astype(np.float32)[..., None]
    haze = np.array(domain.haze, np.float32) * (gains if not domain.night else 1.0)
    img = img * trans + haze * (1 - trans)
    if domain.blur > 0:  # light scattered by fog or falling snow softens every edge
        img = np.asarray(cv2.GaussianBlur(img, (0, 0), domain.blur * W / 448.0), np.float32)
    if domain.flakes > 0:
        _flakes(img, rng, domain.flakes)
    gray = img.mean(axis=2, keepdims=True)
    img = gray + np.float32(domain.saturation) * (img - gray)
    img = 0.45 + np.float32(domain.contrast) * (img - 0.45)
    img *= _vignette(H, W)[..., None]
    sigma = domain.noise_sigma * float(rng.uniform(0.7, 1.3))
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    if domain.night:  # blotchy chroma noise of a sensor at high gain
        blotch = rng.standard_normal((H // 4 + 1, W // 4 + 1, 3), dtype=np.float32) * sigma
        img += cv2.resize(blotch, (W, H), interpolation=cv2.INTER_LINEAR)
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
