"""Per-pixel ground, sky and distant skyline, computed for the whole frame at once.

Each ground pixel is traced to the road plane (distance d, across-road u, along-road z); its
class follows from the cross-section of the segment at z, its texture from noise at (u, z), so
the road surface stays put while the camera moves over it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth import noise
from uncertainty_seg_node.synth.camera import Camera
from uncertainty_seg_node.synth.domains import Domain
from uncertainty_seg_node.synth.road import LAYOUTS, SEGMENT_M
from uncertainty_seg_node.synth.world import World

SKYLINE_M = 170.0  # distance of the far silhouette
_LOOKUP_M = 260.0  # beyond this the ground reuses the last segment's cross-section


@dataclass(frozen=True)
class GroundStyle:
    """Drive-wide colours of the ground and the sky."""

    asphalt: np.ndarray
    paving: np.ndarray
    grass: np.ndarray
    dirt: np.ndarray
    crops: np.ndarray  # (3, 3): three field colours
    marking_wear: float
    clouds: float
    seed: int


def ground_style(seed: int, domain: Domain) -> GroundStyle:
    """Colours of one drive (varied per drive so no class has one fixed colour)."""
    rng = np.random.default_rng([seed, 53])
    grey = float(rng.uniform(0.22, 0.45))
    asphalt = np.array([grey, grey, grey * float(rng.uniform(0.95, 1.08))], np.float32)
    if domain.layout == "rural":
        asphalt = asphalt * np.float32(1.2) + np.float32(0.04)
    pavings = ((0.58, 0.57, 0.55), (0.68, 0.66, 0.62), (0.6, 0.45, 0.42), (0.5, 0.5, 0.52),
               (0.7, 0.64, 0.52))
    paving = np.array(pavings[int(rng.integers(len(pavings)))], np.float32)
    grass = np.array([rng.uniform(0.2, 0.4), rng.uniform(0.33, 0.48), rng.uniform(0.1, 0.2)],
                     np.float32)
    dirt = np.array([rng.uniform(0.38, 0.5), rng.uniform(0.3, 0.38), rng.uniform(0.2, 0.26)],
                    np.float32)
    crops = np.array([(0.72, 0.6, 0.3), (0.4, 0.48, 0.16), (0.42, 0.31, 0.2)], np.float32)
    clouds = domain.clouds
    if domain.name == "city-day":
        clouds = float(rng.choice([0.1, 0.4, 0.7, 1.0]))
    return GroundStyle(asphalt, paving, grass, dirt, crops * np.float32(rng.uniform(0.9, 1.1)),
                       float(rng.uniform(0.0, 0.7)), clouds, seed)


def _segment_table(world: World, cam: Camera) -> tuple[int, np.ndarray]:
    """(first segment index, per-segment attributes (n, 9)) for the visible stretch."""
    segments = world.segments(cam.z, cam.z + _LOOKUP_M)
    table = np.zeros((len(segments), 9), np.float32)
    for i, seg in enumerate(segments):
        road = seg.road
        c0, c1 = seg.crossing if seg.crossing else (-1.0, -1.0)
        table[i] = (road.road_half, road.sidewalk, road.verge, LAYOUTS.index(road.layout),
                    c0, c1, seg.beyond[0], seg.beyond[1], road.lane_w)
    return segments[0].index, table


def _markings(u: np.ndarray, z: np.ndarray, half: np.ndarray, lane_w: np.ndarray,
              lay: np.ndarray, c0: np.ndarray, wear: np.ndarray) -> np.ndarray:
    """Where lane paint is (bool), for city and rural roads."""
    au = np.abs(u)
    width = 0.075
    paved = lay < 2
    centre = (au < width) & (np.mod(z, 9.0) < 3.0)
    lane2 = (np.abs(au - lane_w) < width) & (np.mod(z, 9.0) < 3.0) & (half > 2 * lane_w - 0.1)
    edge = np.abs(au - (half - 0.25)) < width
    zebra = (z > c0 - 4.5) & (z < c0 - 0.5) & (au < half) & (np.mod(u, 1.0) < 0.5) & (c0 > 0)
    paint = (centre | lane2 | edge | zebra) & paved & (au < half)
    return paint & (wear > 0.25)


def render_ground(world: World, cam: Camera, domain: Domain, style: GroundStyle
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(albedo float32 HxWx3, labels uint8 HxW, depth float32 HxW) of ground, sky and skyline."""
    H, W = cam.height, cam.width
    albedo = np.zeros((H, W, 3), np.float32)
    labels = np.full((H, W), L.SKY, np.uint8)
    depth = np.full((H, W), 1e6, np.float32)
    first = int(np.clip(np.floor(cam.horizon + 1.0), 0, H))
    if first < H:
        d, u, z = cam.ground_coords(first)
        lab, col = _ground_pixels(world, cam, domain, style, d, u, z)
        labels[first:], albedo[first:], depth[first:] = lab, col, d
    _sky(albedo, labels, cam, domain, style)
    _skyline(albedo, labels, depth, world, cam, style)
    return albedo, labels, depth


def _ground_pixels(world: World, cam: Camera, domain: Domain, style: GroundStyle,
                   d: np.ndarray, u: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first_seg, table = _segment_table(world, cam)
    idx = np.clip(np.floor(z / SEGMENT_M).astype(np.int64) - first_seg, 0, len(table) - 1)
    attrs = table[idx]  # (h, w, 9)
    half, side_w, verge, lay, c0, c1, b_left, b_right, lane_w = (attrs[..., k] for k in range(9))
    au = np.abs(u)
    seed = style.seed
    crossing = (z >= c0) & (z < c1) & (lay == 0)
    road = (au <= half) | crossing
    sidewalk = (lay == 0) & ~road & (au <= half + side_w)
    beyond = np.where(u < 0, b_left, b_right)
    paving_beyond = (lay == 0) & ~road & ~sidewalk & (beyond == 1)
    lab = np.full(u.shape, L.TERRAIN, np.uint8)
    lab[road] = L.ROAD
    lab[sidewalk | paving_beyond] = L.SIDEWALK
    track_strip = (lay == 2) & (au < 0.3)
    lab[track_strip] = L.TERRAIN

    coarse = noise.fractal(u * 0.35, z * 0.35, seed, 3)
    fine = noise.at(seed + 7, 0.7, u * 9.0, z * 9.0)
    col = np.empty(u.shape + (3,), np.float32)
    # each class's texture is computed on its own pixels only
    sel = lab == L.ROAD  # asphalt (city, rural) or packed dirt (offroad)
    if sel.any():
        ur, zr, layr, fr = u[sel], z[sel], lay[sel], fine[sel]
        patch = noise.at(seed + 3, 3.0, ur * 0.5, zr * 0.25) > 0.72
        ruts = (layr == 2) & (np.abs(np.abs(ur) - 0.9) < 0.28)
        shade = 0.85 + 0.3 * coarse[sel] + 0.16 * (fr - 0.5) - 0.12 * patch - 0.15 * ruts
        surface = np.where((layr == 2)[:, None], style.dirt, style.asphalt)
        road_col = surface * shade[:, None]
        wear = noise.at(seed + 5, 2.0, ur * 2.0, zr * 0.5) + 0.6 - style.marking_wear
        paint = _markings(ur, zr, half[sel], lane_w[sel], layr, c0[sel], wear)
        road_col[paint] = np.float32(0.82) * (0.9 + 0.1 * fr[paint, None])
        col[sel] = road_col
    sel = lab == L.SIDEWALK  # tiles, and a lighter curb along the road
    if sel.any():
        us, zs, fs = u[sel], z[sel], fine[sel]
        tiles = (np.mod(us, 0.6) < 0.05) | (np.mod(zs, 0.6) < 0.05)
        pav = style.paving * (0.9 + 0.2 * coarse[sel] + 0.1 * (fs - 0.5)
                              - 0.18 * tiles)[:, None]
        curb = sidewalk[sel] & (np.abs(us) < half[sel] + 0.2)
        pav[curb] = (style.paving * 1.1 * (0.9 + 0.1 * fs[curb, None])).clip(0, 1)
        col[sel] = pav
    sel = lab == L.TERRAIN  # grass (city), fields (rural), grass and dirt (offroad, shoulders)
    if sel.any():
        ut, zt, ft, layt = u[sel], z[sel], fine[sel], lay[sel]
        blotch = noise.fractal(ut * 0.8, zt * 0.8, seed + 11, 3)
        grass = style.grass * (0.75 + 0.5 * blotch + 0.3 * (ft - 0.5))[:, None]
        dirt = style.dirt * (0.8 + 0.4 * ft)[:, None]
        mixed = np.where((blotch > 0.55)[:, None], dirt, grass)
        shoulder = (layt == 1) & (np.abs(ut) <= half[sel] + verge[sel])
        terrain = np.where(((layt == 2) | shoulder)[:, None], mixed, grass)
        fields = (layt == 1) & ~shoulder
        if fields.any():
            uf, zf = ut[fields], zt[fields]
            kind = np.clip((noise.at(seed + 13, 4.0, uf * 0.02, zf * 0.02) * 3).astype(np.int64),
                           0, 2)
            rows = 0.85 + 0.15 * np.sin(uf * 7.0 + 0.3 * np.sin(zf * 0.05))
            terrain[fields] = style.crops[kind] * (rows * (0.85 + 0.3 * blotch[fields]))[:, None]
        col[sel] = terrain
    if domain.snow > 0:
        _snow_ground(col, lab, u, lane_w, coarse, fine, domain.snow)
    return lab, col


def _snow_ground(col: np.ndarray, lab: np.ndarray, u: np.ndarray, lane_w: np.ndarray,
                 coarse: np.ndarray, fine: np.ndarray, amount: float) -> None:
    """Snow on the ground: sidewalks and terrain white, the road slushy outside tyre tracks."""
    white = (np.array([0.88, 0.9, 0.94], np.float32) * (0.9 + 0.1 * fine)[..., None])
    lane = np.mod(u + 0.4 * (coarse - 0.5), lane_w) - lane_w / 2
    tracks = np.minimum(np.abs(np.abs(lane) - 0.8), 1.0)
    cover = np.where(lab == L.ROAD, np.clip((tracks - 0.12) * 4.0, 0, 1) * 0.95,
                     np.clip(1.0 + 0.8 * (coarse - 0.5), 0, 1))
    cover = (cover * amount * (0.85 + 0.3 * (fine - 0.5)))[..., None]
    col[:] = col * (1 - cover) + white * cover


def _sky(albedo: np.ndarray, labels: np.ndarray, cam: Camera, domain: Domain,
         style: GroundStyle) -> None:
    H, W = labels.shape
    rows = int(np.clip(np.ceil(cam.horizon + 2), 1, H))  # the sky is above the horizon
    ys = np.arange(rows, dtype=np.float32)[:, None]
    t = np.clip((cam.horizon - ys) / max(cam.horizon, 1.0), 0.0, 1.0) ** 0.7
    top, horizon = np.array(domain.sky_top, np.float32), np.array(domain.sky_horizon, np.float32)
    sky = horizon + (top - horizon) * t[..., None]
    sky = np.broadcast_to(sky, (rows, W, 3)).copy()
    if style.clouds > 0:
        xs = np.arange(W, dtype=np.float32)[None, :] / cam.focal * 40.0 + cam.heading * 40.0
        cloud = noise.fractal(xs, ys * 0.25 / max(cam.focal / 400.0, 0.1), style.seed + 17, 4)
        amount = np.clip((cloud - (1.0 - style.clouds * 0.75)) * 3.0, 0.0, 1.0)
        grey = np.float32(0.95) - 0.25 * noise.fractal(xs * 2, ys * 0.5, style.seed + 19, 2)
        bright = np.float32(1.0 if not domain.night else 0.05)
        sky = sky * (1 - amount[..., None]) + (grey * amount * bright)[..., None]
    is_sky = labels[:rows] == L.SKY
    albedo[:rows][is_sky] = sky[is_sky]


def _skyline(albedo: np.ndarray, labels: np.ndarray, depth: np.ndarray, world: World,
             cam: Camera, style: GroundStyle) -> None:
    """A distant silhouette (buildings, tree line or forest) along the horizon."""
    H, W = labels.shape
    layout = world.segment_at(cam.z + SKYLINE_M).road.layout
    angle = (np.arange(W, dtype=np.float32) - cam.cx) / cam.focal + cam.heading
    if layout == "city":
        blocks = np.floor(angle * 14.0) + 0.5
        height = 6.0 + 30.0 * noise.at(style.seed + 23, 0.0, blocks * 3.1,
                                           blocks * 0.0) ** 1.5
        label, color = L.BUILDING, np.array([0.5, 0.52, 0.56], np.float32)
    else:
        bumps = noise.fractal(angle * 30.0, angle * 0.0 + 3.0, style.seed + 29, 3)
        height = (4.0 if layout == "rural" else 12.0) + 14.0 * (bumps - 0.35)
        label, color = L.VEGETATION, np.array([0.16, 0.24, 0.12], np.float32)
    top = cam.horizon - cam.focal * (height - cam.cam_h) / SKYLINE_M
    base = cam.horizon + cam.focal * cam.cam_h / SKYLINE_M
    ys = np.arange(H, dtype=np.float32)[:, None]
    inside = (ys >= top[None, :]) & (ys <= base) & (depth > SKYLINE_M) & (height > 1.0)[None, :]
    texture = 0.8 + 0.4 * noise.at(style.seed + 31, 1.0, angle[None, :] * 200,
                                        ys * 0.7)
    labels[inside] = label
    albedo[inside] = (color * texture[..., None])[inside]
    depth[inside] = SKYLINE_M
