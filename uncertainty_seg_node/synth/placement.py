"""What stands where: the structures and objects of one segment, and the traffic streams.

Every choice comes from a generator seeded by (drive seed, purpose, segment), so a segment is
the same every time it is generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from uncertainty_seg_node.synth.domains import Domain
from uncertainty_seg_node.synth.road import SEGMENT_M, Plane, Road, Segment, Thing, seeded_rng

# Unknown objects per layout (none of them is one of the 19 classes).
ANOMALY_KINDS = {
    "city": ("box", "debris", "tyre", "barrel", "strange", "dog", "crate", "cone"),
    "rural": ("cow", "sheep", "deer", "bale", "box", "debris", "strange", "crate"),
    "offroad": ("boulder", "log", "deer", "debris", "strange", "boulder", "barrel"),
}
_VIEW_M = 55.0  # about how far along the road an unknown object is visible


@dataclass(frozen=True)
class Stream:
    """Traffic moving along the road at speed v (m/s) in one lane."""

    u: float
    v: float
    facing: int
    gap: float  # mean spacing, metres
    kinds: tuple[tuple[str, float], ...]  # (kind, probability)
    layout: str
    lane: int
    wobble: float = 0.0


def streams(road: Road) -> list[Stream]:
    """The traffic streams of a road (a fixed list per drive and layout)."""
    rng = seeded_rng(road.seed, 31, len(road.layout))
    vehicles = (("car", 0.8), ("truck", 0.1), ("bus", 0.06), ("motorcycle", 0.04))
    out: list[Stream] = []
    if road.layout == "city":
        out.append(Stream(road.cam_u, road.speed, 1, 140.0, vehicles, "city", 1, 3.0))
        oncoming = -float(rng.uniform(8.0, 13.0))
        tram = (("car", 0.78), ("truck", 0.08), ("bus", 0.06), ("tram", 0.04),
                ("motorcycle", 0.04))
        out.append(Stream(-road.lane_w / 2, oncoming, -1, 30.0 / road.density, tram, "city", 1))
        if road.lanes >= 2:
            out.append(Stream(1.5 * road.lane_w, road.speed - 4.0, 1, 50.0, vehicles, "city", 2))
            out.append(Stream(-1.5 * road.lane_w, oncoming - 2, -1, 40.0, vehicles, "city", 2))
        for side in (-1, 1):
            for direction in (-1, 1):
                u = side * (road.road_half + road.sidewalk * float(rng.uniform(0.3, 0.7)))
                out.append(Stream(u, 1.3 * direction, direction, 22.0 / road.density,
                                  (("person", 1.0),), "city", 0))
        edge = road.road_half - road.parking - 0.7
        out.append(Stream(edge, 4.5, 1, 160.0, (("cyclist", 1.0),), "city", 1))
    elif road.layout == "rural":
        out.append(Stream(road.cam_u, road.speed, 1, 260.0, vehicles, "rural", 1, 3.0))
        rural = (("car", 0.75), ("truck", 0.2), ("motorcycle", 0.05))
        out.append(Stream(-road.lane_w / 2, -float(rng.uniform(12.0, 17.0)), -1, 110.0, rural,
                          "rural", 1))
    else:
        out.append(Stream(0.0, road.speed, 1, 500.0, (("car", 1.0),), "offroad", 0, 4.0))
    return out


def stream_segment(seed: int, stream_id: int, k: int, stream: Stream) -> list[Thing]:
    """Objects of a stream whose position at t = 0 lies in segment k."""
    rng = seeded_rng(seed, 37, stream_id, k)
    count = int(rng.poisson(SEGMENT_M / stream.gap))
    positions = np.sort(k * SEGMENT_M + rng.random(count) * SEGMENT_M)
    kinds = [kind for kind, _ in stream.kinds]
    probs = np.array([p for _, p in stream.kinds])
    things: list[Thing] = []
    last = -1e9
    for s in positions:
        if s - last < 9.0:
            continue
        last = float(s)
        kind = kinds[int(rng.choice(len(kinds), p=probs / probs.sum()))]
        things.append(Thing(kind, stream.u + float(rng.normal(0, 0.12)), float(s),
                            int(rng.integers(1 << 30)), stream.v, stream.facing,
                            stream.wobble, stream.layout, stream.lane))
    return things


def _poisson_z(rng: np.random.Generator, mean: float, z0: float) -> np.ndarray:
    return z0 + rng.random(int(rng.poisson(mean))) * SEGMENT_M


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1 << 30))


def populate(seed: int, index: int, road: Road, domain: Domain) -> Segment:
    """Generate segment `index` of a drive in `domain` (whose layout `road` is)."""
    rng = seeded_rng(seed, 23, index)
    z0 = index * SEGMENT_M
    if road.layout == "city":
        seg = _city(rng, index, road, z0)
    elif road.layout == "rural":
        seg = _rural(rng, index, road, z0)
    else:
        seg = _offroad(rng, index, road, z0)
    _anomalies(rng, seg, road, domain, z0)
    return seg


def _anomalies(rng: np.random.Generator, seg: Segment, road: Road, domain: Domain,
               z0: float) -> None:
    rate = min(domain.anomaly_rate, 0.95)
    per_metre = -math.log(1.0 - rate) / _VIEW_M
    kinds = ANOMALY_KINDS[road.layout]
    for z in _poisson_z(rng, per_metre * SEGMENT_M, z0):
        kind = kinds[int(rng.integers(len(kinds)))]
        if rng.random() < 0.6 and road.road_half > 1.0:
            # on the road, but off the ego path so the drive never runs into it
            for _ in range(8):
                u = float(rng.uniform(-road.road_half + 0.4, road.road_half - 0.4))
                if abs(u - road.cam_u) > 1.4:
                    break
            else:
                u = road.road_half + 0.8
        else:
            side = 1 if rng.random() < 0.5 else -1
            u = side * (road.road_half + float(rng.uniform(0.5, 4.0)))
        seg.things.append(Thing("anomaly:" + kind, u, float(z), _seed(rng)))


def _crossing_blocks(seg: Segment, z: float) -> float | None:
    """If z falls in the cross street (with margins), where the street ends."""
    if seg.crossing and seg.crossing[0] - 1.0 <= z < seg.crossing[1] + 1.0:
        return seg.crossing[1] + 1.0
    return None


def _city(rng: np.random.Generator, index: int, road: Road, z0: float) -> Segment:
    crossing = None
    if rng.random() < 0.3:
        start = z0 + float(rng.uniform(6.0, 20.0))
        crossing = (start, start + float(rng.uniform(9.0, 14.0)))
    beyond = (int(rng.choice([0, 1, 1])), int(rng.choice([0, 1, 1])))
    seg = Segment(index, road, crossing, beyond)
    drive = seeded_rng(road.seed, 41)  # drive-wide style: same along the whole drive
    building_p = float(drive.uniform(0.6, 0.95))
    height_scale = float(drive.uniform(0.6, 1.5))
    tree_p = float(drive.choice([0.0, 0.3, 0.6]))
    lamp_spacing, lamp_phase = float(drive.uniform(22, 34)), float(drive.uniform(0, 30))
    inner = road.road_half + road.sidewalk
    for side in (-1, 1):
        face = inner + float(rng.uniform(0.0, 1.2))
        z = z0
        while z < z0 + SEGMENT_M:
            skip = _crossing_blocks(seg, z)
            if skip is not None:
                z = skip
                continue
            end = z0 + SEGMENT_M
            if crossing and z < crossing[0] - 1.0:
                end = min(end, crossing[0] - 1.0)
            if rng.random() < building_p:
                z1 = min(z + float(rng.uniform(6.0, 13.0)), end)
                height = float(np.clip(rng.gamma(4.0, 3.0) * height_scale, 5.0, 35.0))
                seg.planes.append(Plane("building", side, face + float(rng.uniform(0, 0.5)), z,
                                        z1, height, float(rng.uniform(8, 15)), _seed(rng)))
            else:
                z1 = min(z + float(rng.uniform(4.0, 12.0)), end)
                kind = str(rng.choice(["wall", "fence", "hedge", "none"], p=[.3, .3, .2, .2]))
                if kind != "none":
                    height = float(rng.uniform(0.9, 2.3))
                    seg.planes.append(Plane(kind, side, inner + 0.3, z, z1, height,
                                            0.3 if kind != "hedge" else 0.9, _seed(rng)))
                for zt in rng.uniform(z, z1, int(rng.poisson(0.8))):
                    kind = "tree" if rng.random() < 0.6 else "bush"
                    seg.things.append(Thing(kind, side * (face + float(rng.uniform(1, 4))),
                                            float(zt), _seed(rng)))
            z = z1
        # street lamps at a regular spacing along the whole drive
        first = math.ceil((z0 - lamp_phase) / lamp_spacing)
        for k in range(first, first + 3):
            zl = lamp_phase + k * lamp_spacing + (side > 0) * lamp_spacing / 2
            if z0 <= zl < z0 + SEGMENT_M and _crossing_blocks(seg, zl) is None:
                seg.things.append(Thing("lamp", side * (road.road_half + 0.45), zl,
                                        _seed(rng), facing=side))
        if tree_p and road.sidewalk > 2.8:
            for zt in np.arange(z0 + rng.uniform(0, 9), z0 + SEGMENT_M, 9.0):
                if rng.random() < tree_p and _crossing_blocks(seg, float(zt)) is None:
                    seg.things.append(Thing("tree", side * (inner - 0.9), float(zt), _seed(rng)))
        for zp in _poisson_z(rng, 1.0 * road.density, z0):
            u = side * (road.road_half + float(rng.uniform(0.5, road.sidewalk - 0.3)))
            kind = "person" if rng.random() < 0.85 else "bicycle"
            facing = int(rng.choice([-1, 1]))
            seg.things.append(Thing(kind, u, float(zp), _seed(rng), facing=facing))
        for zs in _poisson_z(rng, 0.5 if side > 0 else 0.25, z0):
            kind = "sign" if rng.random() < 0.75 else "pole"
            seg.things.append(Thing(kind, side * (road.road_half + 0.35), float(zs), _seed(rng)))
        if road.parking:
            for zc in np.arange(z0 + rng.uniform(0, 5.5), z0 + SEGMENT_M, 5.6):
                if rng.random() < 0.55 * road.density and _crossing_blocks(seg, float(zc)) is None:
                    kind = "car" if rng.random() < 0.9 else "truck"
                    seg.things.append(Thing(kind, side * (road.road_half - road.parking / 2),
                                            float(zc), _seed(rng), facing=side))
        if crossing:
            seg.things.append(Thing("light", side * (road.road_half + 0.5), crossing[0] - 1.2,
                                    _seed(rng), facing=side))
            if side > 0 and rng.random() < 0.6:
                seg.things.append(Thing("light_arm", road.road_half + 0.5, crossing[1] + 0.5,
                                        _seed(rng), facing=side))
    return seg


def _rural(rng: np.random.Generator, index: int, road: Road, z0: float) -> Segment:
    seg = Segment(index, road, None, (2, 2 if rng.random() < 0.7 else 0))
    drive = seeded_rng(road.seed, 43)
    pole_side = 1 if drive.random() < 0.5 else -1
    pole_spacing, pole_phase = float(drive.uniform(38, 55)), float(drive.uniform(0, 40))
    edge = road.road_half + road.verge
    for side in (-1, 1):
        if rng.random() < 0.5:
            za = z0 + float(rng.uniform(0, 15))
            seg.planes.append(Plane("hedge", side, edge + float(rng.uniform(0.3, 2.0)), za,
                                    min(za + float(rng.uniform(8, 30)), z0 + SEGMENT_M),
                                    float(rng.uniform(1.0, 2.6)), 1.0, _seed(rng)))
        elif rng.random() < 0.4:
            seg.planes.append(Plane("fence", side, edge + float(rng.uniform(0.3, 1.5)), z0,
                                    z0 + SEGMENT_M, float(rng.uniform(1.0, 1.4)), 0.1,
                                    _seed(rng)))
        if rng.random() < 0.25:
            zf = z0 + float(rng.uniform(0, 20))
            seg.planes.append(Plane("forest", side, float(rng.uniform(14, 40)), zf,
                                    zf + float(rng.uniform(15, 40)), float(rng.uniform(8, 16)),
                                    30.0, _seed(rng)))
        if rng.random() < 0.12:
            zf = z0 + float(rng.uniform(0, 25))
            seg.planes.append(Plane("farmhouse", side, float(rng.uniform(10, 25)), zf,
                                    zf + float(rng.uniform(9, 15)), float(rng.uniform(5, 8)),
                                    10.0, _seed(rng)))
        for zt in _poisson_z(rng, 1.6 * road.density, z0):
            kind = str(rng.choice(["tree", "conifer", "bush"], p=[.5, .2, .3]))
            seg.things.append(Thing(kind, side * (edge + float(rng.exponential(8.0)) + 1.0),
                                    float(zt), _seed(rng)))
        first = math.ceil((z0 - pole_phase) / pole_spacing)
        for k in range(first, first + 2):
            zp = pole_phase + k * pole_spacing
            if side == pole_side and z0 <= zp < z0 + SEGMENT_M:
                seg.things.append(Thing("utility_pole", side * (edge + 0.6), zp, _seed(rng)))
        for zs in _poisson_z(rng, 0.3, z0):
            seg.things.append(Thing("sign_rural", side * (road.road_half + 0.6), float(zs),
                                    _seed(rng)))
        for zp in _poisson_z(rng, 0.12, z0):
            seg.things.append(Thing("person", side * (road.road_half + 0.5), float(zp),
                                    _seed(rng), facing=int(rng.choice([-1, 1]))))
        for zp in _poisson_z(rng, 0.06, z0):
            seg.things.append(Thing("truck", side * (edge + 2.5), float(zp), _seed(rng),
                                    facing=side))
    return seg


def _offroad(rng: np.random.Generator, index: int, road: Road, z0: float) -> Segment:
    seg = Segment(index, road, None, (3, 3))
    edge = road.road_half + road.verge
    for side in (-1, 1):
        z = z0
        while z < z0 + SEGMENT_M:
            z1 = min(z + float(rng.uniform(6, 15)), z0 + SEGMENT_M)
            if rng.random() < 0.85:
                seg.planes.append(Plane("forest", side, edge + float(rng.uniform(0.5, 4.0)), z,
                                        z1, float(rng.uniform(6, 16)), 20.0, _seed(rng)))
            z = z1 + float(rng.uniform(0, 2))
        for zt in _poisson_z(rng, 3.0 * road.density, z0):
            kind = str(rng.choice(["tree", "conifer", "bush", "bush"]))
            seg.things.append(Thing(kind, side * (road.road_half + float(rng.uniform(0.6, 4.0))),
                                    float(zt), _seed(rng)))
        for zt in _poisson_z(rng, 0.1, z0):
            seg.things.append(Thing("person", side * (road.road_half + 0.5), float(zt),
                                    _seed(rng), facing=int(rng.choice([-1, 1]))))
        for zt in _poisson_z(rng, 0.05, z0):
            seg.things.append(Thing("car", side * (road.road_half + 1.5), float(zt),
                                    _seed(rng), facing=side))
    return seg
