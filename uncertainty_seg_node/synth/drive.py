"""Frames of the synthetic world: a coherent drive, or independent scenes for training sets."""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth.camera import Camera, make_camera
from uncertainty_seg_node.synth.domains import Domain, get_domain
from uncertainty_seg_node.synth.effects import develop
from uncertainty_seg_node.synth.ground import GroundStyle, ground_style
from uncertainty_seg_node.synth.render import Renderer
from uncertainty_seg_node.synth.road import make_road
from uncertainty_seg_node.synth.world import World

_CURVE = {"city": 1 / 260.0, "rural": 1 / 180.0, "offroad": 1 / 90.0}
_BUMP = {"city": 0.004, "rural": 0.006, "offroad": 0.02}
_STRETCH_M = 100_000.0  # drives through several layouts use one stretch of road per layout


@dataclass(frozen=True)
class SynthFrame:
    """One rendered frame: the image, its class labels and its unknown-object mask."""

    image: np.ndarray  # uint8 (H, W, 3) RGB
    labels: np.ndarray  # uint8 (H, W) Cityscapes train ids, 255 = unknown object (ignore)
    anomaly: np.ndarray  # uint8 (H, W): 255 on unknown objects, 0 elsewhere
    domain: str
    index: int
    time_s: float  # seconds since the start of the drive


class _Drive:
    """Camera path, world, renderer and looks of one drive with a fixed seed."""

    def __init__(self, seed: int, domain_at: object) -> None:
        self.seed = seed
        self.world = World(seed, domain_at)  # type: ignore[arg-type]
        rng = np.random.default_rng([seed, 61])
        self.renderer = Renderer(self.world, sun_side=int(rng.choice([-1, 1])))
        self.look = np.array([rng.uniform(0.85, 1.15), *rng.uniform(0.95, 1.05, 3)], np.float32)
        self.curve_amp = float(rng.uniform(0.0, 1.0))
        self.curve_period = float(rng.uniform(250.0, 600.0))
        self.phase = float(rng.uniform(0, 2 * np.pi))
        self._styles: dict[str, GroundStyle] = {}

    def style(self, domain: Domain) -> GroundStyle:
        if domain.name not in self._styles:
            self._styles[domain.name] = ground_style(self.seed, domain)
        return self._styles[domain.name]

    def camera(self, size: tuple[int, int], z: float, t: float, domain: Domain) -> Camera:
        road = self.world.road(domain.layout)
        angle = 2 * np.pi * z / self.curve_period + self.phase
        amp = self.curve_amp * _CURVE[domain.layout]
        curvature = amp * float(np.sin(angle))
        heading = -amp * self.curve_period / (2 * np.pi) * float(np.cos(angle))
        bump = _BUMP[domain.layout] * size[0]
        pitch = bump * float(np.sin(5.1 * t + self.phase) + 0.5 * np.sin(13.7 * t))
        sway = 0.12 * float(np.sin(0.45 * t + self.phase))
        return make_camera(size[0], size[1], z, road.cam_u + sway, curvature, heading, pitch)

    def frame(self, size: tuple[int, int], z: float, t: float, domain: Domain, index: int
              ) -> SynthFrame:
        cam = self.camera(size, z, t, domain)
        layers = self.renderer.render(cam, t, domain, self.style(domain))
        rng = np.random.default_rng([self.seed, 67, index])
        image = develop(layers, cam, domain, rng, self.look)
        labels = layers.labels
        anomaly = np.where(labels == L.UNKNOWN, 255, 0).astype(np.uint8)
        return SynthFrame(image, labels, anomaly, domain.name, index, t)


def _check(count: int, size: tuple[int, int]) -> None:
    if count < 1:
        raise UserError(f"--count must be at least 1; got {count}")
    if size[0] < 16 or size[1] < 16:
        raise UserError(f"size {size[0]}x{size[1]} is too small; use at least 16x16")


def _domains(domains: Sequence[Domain | str] | Domain | str) -> list[Domain]:
    if isinstance(domains, (str, Domain)):
        domains = [domains]
    out = [get_domain(d) if isinstance(d, str) else d for d in domains]
    if not out:
        raise UserError("no domain given")
    return out


def render_drive(domains: Sequence[Domain | str] | Domain | str, count: int,
                 size: tuple[int, int], seed: int, rate: float = 10.0) -> Iterator[SynthFrame]:
    """A coherent drive of `count` frames at `rate` Hz.

    The frames are split across `domains` in order and each frame records its domain. Light and
    weather change on the same road; a change of layout (city, rural, offroad) cuts to another
    stretch of road, so every frame shows its own domain's layout.
    """
    doms = _domains(domains)
    _check(count, size)
    if rate <= 0:
        raise UserError(f"--rate must be positive; got {rate}")
    frame_domains = [doms[i * len(doms) // count] for i in range(count)]
    positions: list[float] = []
    z = 20.0
    for i, dom in enumerate(frame_domains):
        if i and dom.layout != frame_domains[i - 1].layout:
            # a new layout is a new stretch of road (a cut): a few metres of road cannot turn
            # a city into a forest, and every frame should show the layout of its domain
            z = (np.floor(z / _STRETCH_M) + 1) * _STRETCH_M + 20.0
        positions.append(z)
        z += make_road(seed, dom.layout).speed / rate

    def domain_at(z: float) -> Domain:
        """The domain of the last frame at or before z on z's stretch (else its first)."""
        stretch = np.floor(z / _STRETCH_M)
        i = bisect.bisect_right(positions, z) - 1
        if i < 0 or np.floor(positions[i] / _STRETCH_M) != stretch:
            i = bisect.bisect_left(positions, stretch * _STRETCH_M)
        return frame_domains[min(max(i, 0), count - 1)]

    drive = _Drive(seed, domain_at)
    for i in range(count):
        yield drive.frame(size, positions[i], i / rate, frame_domains[i], i)


def scene_seed(domain: str, seed: int, index: int) -> int:
    """The seed of the world that frame `index` of `render_frames(domain, ..., seed)` shows.

    A drive's frames (`render_drive(..., seed)`) all show the world of `seed` itself, so two sets
    share a scene only if these seeds meet (test/test_demo_frames_unseen.py checks the demo).
    """
    salt = zlib.crc32(domain.encode())  # same seed, other domain: other scenes (no leaks)
    return int(np.random.default_rng([seed, 71, salt, index]).integers(1 << 31))


def render_frames(domain: Domain | str, count: int, size: tuple[int, int], seed: int,
                  start: int = 0) -> Iterator[SynthFrame]:
    """`count` independent scenes of one domain (each its own drive and place): a training set.

    Frame i depends only on (seed, domain, start + i), so sets can be rendered in pieces.
    """
    dom = _domains(domain)[0]
    _check(count, size)
    for i in range(start, start + count):
        frame_seed = scene_seed(dom.name, seed, i)
        drive = _Drive(frame_seed, lambda z, d=dom: d)
        rng = np.random.default_rng([frame_seed, 73])
        z = float(rng.uniform(100.0, 5000.0))
        t = float(rng.uniform(0.0, 600.0))
        yield drive.frame(size, z, t, dom, i)
