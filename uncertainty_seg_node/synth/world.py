"""The world along one drive: road cross-sections, roadside structures, objects and traffic.

Coordinates are road-aligned: `z` metres along the road, `u` metres across it (+ right). The
world is generated lazily in 40 m segments, each from its own seeded generator, so any stretch
of an endless road is the same whenever it is looked at. Traffic moves in streams of constant
speed; a stream is generated in segments of `s = z - v t` (the position at t = 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uncertainty_seg_node.synth.domains import Domain
from uncertainty_seg_node.synth.placement import populate, stream_segment, streams
from uncertainty_seg_node.synth.road import LAYOUTS, SEGMENT_M, Road, Segment, Thing, make_road


class World:
    """Lazily generated roadside world of one drive; the layout at z comes from `domain_at`."""

    def __init__(self, seed: int, domain_at: Callable[[float], Domain]) -> None:
        """A world for drive `seed`, whose segment at z has the layout of `domain_at(z)`."""
        self.seed = seed
        self.domain_at = domain_at
        self._segments: dict[int, Segment] = {}
        self._streams: dict[tuple[int, int], list[Thing]] = {}
        self._roads = {layout: make_road(seed, layout) for layout in LAYOUTS}

    def road(self, layout: str) -> Road:
        """The cross-section of `layout` on this drive."""
        return self._roads[layout]

    def segment(self, index: int) -> Segment:
        """The segment covering z in [index * 40, (index + 1) * 40)."""
        seg = self._segments.get(index)
        if seg is None:
            domain = self.domain_at(index * SEGMENT_M)
            seg = populate(self.seed, index, self.road(domain.layout), domain)
            if len(self._segments) > 256:
                self._segments.pop(next(iter(self._segments)))
            self._segments[index] = seg
        return seg

    def segment_at(self, z: float) -> Segment:
        """The segment containing z."""
        return self.segment(int(np.floor(z / SEGMENT_M)))

    def segments(self, z0: float, z1: float) -> list[Segment]:
        """Segments overlapping [z0, z1]."""
        first, last = int(np.floor(z0 / SEGMENT_M)), int(np.floor(z1 / SEGMENT_M))
        return [self.segment(i) for i in range(first, last + 1)]

    def traffic(self, t: float, z0: float, z1: float) -> list[tuple[Thing, float]]:
        """Moving objects (thing, z now) with z in [z0, z1] on a road that has their lane."""
        found: list[tuple[Thing, float]] = []
        for layout in LAYOUTS:
            for sid, stream in enumerate(streams(self.road(layout))):
                s0, s1 = z0 - stream.v * t - 10.0, z1 - stream.v * t + 10.0
                for k in range(int(np.floor(s0 / SEGMENT_M)), int(np.floor(s1 / SEGMENT_M)) + 1):
                    key = (LAYOUTS.index(layout) * 64 + sid, k)
                    things = self._streams.get(key)
                    if things is None:
                        things = stream_segment(self.seed, key[0], k, stream)
                        if len(self._streams) > 1024:
                            self._streams.pop(next(iter(self._streams)))
                        self._streams[key] = things
                    for thing in things:
                        z = thing.z_at(t)
                        if not z0 <= z <= z1:
                            continue
                        road = self.segment_at(z).road
                        if road.layout == thing.layout and road.lanes >= thing.lane:
                            found.append((thing, z))
        return found
