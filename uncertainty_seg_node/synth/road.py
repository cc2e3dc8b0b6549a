"""What the world along a drive is made of: road cross-sections, planes, things, segments.

Coordinates are road-aligned: `z` metres along the road, `u` metres across it (+ right). Each
40 m segment is generated from its own seeded generator (`seeded_rng`); `placement.py` fills
segments and `world.py` assembles them lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SEGMENT_M = 40.0
LAYOUTS = ("city", "rural", "offroad")


@dataclass(frozen=True)
class Road:
    """Cross-section and densities of one layout for one drive."""

    layout: str
    lane_w: float
    lanes: int  # per direction; 0 = a single track
    parking: float  # width of the parking strip on each side (city)
    road_half: float  # centre line to road edge
    sidewalk: float  # sidewalk width (city), 0 otherwise
    verge: float  # shoulder (rural) / verge (offroad) width beyond the road
    cam_u: float  # where the ego camera drives
    speed: float  # ego speed, m/s
    density: float  # how busy: scales objects and traffic
    seed: int  # the drive's seed, for drive-wide style choices


@dataclass(frozen=True)
class Plane:
    """A structure face parallel to the road: building, wall, fence, hedge, forest edge."""

    kind: str
    side: int  # -1 left, +1 right
    u: float  # |u| of the face
    z0: float
    z1: float
    height: float
    depth: float  # thickness away from the road (for the visible end face)
    seed: int


@dataclass(frozen=True)
class Thing:
    """An object standing at one spot (or moving along the road at speed v)."""

    kind: str
    u: float
    s: float  # position along the road at t = 0
    seed: int
    v: float = 0.0
    facing: int = 1  # +1: seen from behind, -1: from the front
    wobble: float = 0.0  # amplitude (m) of slow back-and-forth (lead vehicles)
    layout: str = ""  # traffic only: shown only where the road has this layout
    lane: int = 0  # traffic only: needs this many lanes per direction

    def z_at(self, t: float) -> float:
        """Position along the road at time t."""
        return self.s + self.v * t + self.wobble * float(np.sin(0.35 * t + self.seed % 7))


@dataclass
class Segment:
    """One 40 m stretch: its layout, cross street, ground beyond the road, structures, objects."""

    index: int
    road: Road
    crossing: tuple[float, float] | None
    beyond: tuple[int, int]  # (left, right) ground kind beyond the sidewalk/verge: 0..3
    planes: list[Plane] = field(default_factory=list)
    things: list[Thing] = field(default_factory=list)


def seeded_rng(*keys: int) -> np.random.Generator:
    """A generator seeded by a tuple of integers (drive seed, purpose, index, ...)."""
    return np.random.default_rng([k & 0xFFFFFFFF for k in keys])


def make_road(seed: int, layout: str) -> Road:
    """The cross-section of `layout` for the drive with `seed`."""
    rng = seeded_rng(seed, 11, LAYOUTS.index(layout))
    speed = float(rng.uniform(7.0, 12.0))
    density = float(rng.uniform(0.6, 1.4))
    if layout == "city":
        lane_w = float(rng.uniform(3.0, 3.6))
        lanes = int(rng.choice([1, 1, 2]))
        parking = float(rng.choice([0.0, 2.2, 2.2]))
        road_half = lanes * lane_w + parking
        return Road(layout, lane_w, lanes, parking, road_half, float(rng.uniform(2.5, 5.0)),
                    0.0, lane_w / 2, speed, density, seed)
    if layout == "rural":
        lane_w = float(rng.uniform(2.7, 3.2))
        return Road(layout, lane_w, 1, 0.0, lane_w + 0.2, 0.0, float(rng.uniform(0.6, 1.8)),
                    lane_w / 2, speed, density, seed)
    half = float(rng.uniform(1.5, 2.1))
    return Road(layout, half, 0, 0.0, half, 0.0, float(rng.uniform(1.0, 3.0)), 0.0,
                speed * 0.6, density, seed)
