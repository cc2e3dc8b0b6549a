"""Textures of the structures that line the road: facades, walls, fences, hedges, forest edges.

`plane_sprites(plane)` returns the face along the road and the end face towards the camera,
drawn from the plane's own seed so both share colours.
"""

from __future__ import annotations

import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth import noise
from uncertainty_seg_node.synth.canvas import Canvas, Color, Sprite, jitter, pick
from uncertainty_seg_node.synth.road import Plane
from uncertainty_seg_node.synth.street import LEAVES

WALLS: tuple[Color, ...] = (
    (0.75, 0.72, 0.65), (0.6, 0.6, 0.6), (0.85, 0.84, 0.8), (0.55, 0.3, 0.22), (0.4, 0.38, 0.36),
    (0.7, 0.6, 0.45), (0.5, 0.55, 0.6), (0.65, 0.5, 0.4), (0.3, 0.3, 0.32),
)
_PPM = 14.0
_MAX_PX = 480


def _windows(c: Canvas, rng: np.random.Generator, wall: Color, night: bool,
             x0: float, x1: float) -> None:
    """Floors of windows across [x0, x1] of a facade, a shop front or doors at street level.

    Drawn with array masks over the whole canvas (a facade has dozens of windows).
    """
    ground_h = float(rng.uniform(3.2, 4.5))
    floor_h = float(rng.uniform(2.8, 3.4))
    spacing = float(rng.uniform(2.0, 3.2))
    win_w, win_h = spacing * float(rng.uniform(0.4, 0.6)), floor_h * float(rng.uniform(0.4, 0.55))
    glass = np.array(pick(rng, ((0.1, 0.12, 0.16), (0.22, 0.25, 0.3), (0.35, 0.42, 0.5),
                                (0.15, 0.15, 0.13)), 0.3), np.float32)
    frame = np.array(pick(rng, ((0.9, 0.9, 0.88), (0.15, 0.15, 0.15), jitter(rng, wall, 0.3))),
                     np.float32)
    count = max(1, int((x1 - x0) // spacing))
    margin = (x1 - x0 - count * spacing) / 2 + spacing / 2
    floors = max(int((c.height_m - 0.4 - ground_h) // floor_h), 0)
    xs = (np.arange(c.w, dtype=np.float32)[None, :] + 0.5) / c.ppm
    ys = c.height_m - (np.arange(c.h, dtype=np.float32)[:, None] + 0.5) / c.ppm
    col = np.floor((xs - x0 - margin + spacing / 2) / spacing).astype(np.int64)
    dx = np.abs(xs - (x0 + margin + col * spacing))
    col_ok = (col >= 0) & (col < count)
    level = np.floor((ys - ground_h) / floor_h).astype(np.int64)
    dy = ys - (ground_h + level * floor_h + 0.45 * floor_h)
    row_ok = (level >= 0) & (level < floors)
    ok = col_ok & row_ok
    framed = ok & (dx <= win_w / 2 + 0.08) & (dy >= -win_h / 2 - 0.1) & (dy <= win_h / 2 + 0.06)
    pane = ok & (dx <= win_w / 2) & (np.abs(dy) <= win_h / 2)
    per_window = rng.random((max(floors, 1), count)).astype(np.float32)
    lit_p = 0.3 if night else 0.0
    idx = (np.clip(level, 0, max(floors - 1, 0)), np.clip(col, 0, count - 1))
    vary = np.broadcast_to(per_window[idx], pane.shape)
    lit = pane & (vary < lit_p)
    c.rgb[framed] = frame
    c.rgb[pane] = glass * (0.75 + 0.5 * vary[pane])[:, None]
    if lit.any():
        c.rgb[lit] = (0.7, 0.55, 0.35)
        c._emit()[lit] = (1.1, 0.8, 0.45)
    shop = rng.random() < 0.5
    street = col_ok & (ys < ground_h - 0.6)
    if shop:
        window = street & (ys > 0.3) & (dx <= spacing * 0.45)
        c.rgb[window] = np.array(jitter(rng, (0.25, 0.28, 0.3), 0.3), np.float32)
        if night:
            bright = window & np.broadcast_to(per_window[0][np.clip(col, 0, count - 1)] < 0.6,
                                              window.shape)
            c._emit()[bright] = (0.45, 0.4, 0.3)
        if rng.random() < 0.6:
            awning = (ys >= ground_h - 0.6) & (ys < ground_h - 0.2) & (xs >= x0) & (xs <= x1)
            c.rgb[awning] = pick(rng, ((0.6, 0.1, 0.1), (0.1, 0.3, 0.15), (0.2, 0.2, 0.5),
                                       (0.85, 0.85, 0.8)))
    else:
        door = street & (ys < 2.3) & (dx <= 0.55) & (np.mod(col, 3) == 1)
        c.rgb[door] = np.array(jitter(rng, (0.3, 0.2, 0.12), 0.3), np.float32)


def _grid(c: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """Metre coordinates (x along, y up) of the canvas pixel centres, as (1, w) and (h, 1)."""
    xs = (np.arange(c.w, dtype=np.float32)[None, :] + 0.5) / c.ppm
    ys = c.height_m - (np.arange(c.h, dtype=np.float32)[:, None] + 0.5) / c.ppm
    return xs, ys


def _building(plane: Plane, rng: np.random.Generator, detail: np.random.Generator,
              c: Canvas, snow: float, night: bool, end: bool) -> None:
    wall = pick(rng, WALLS, 0.1)
    glass_tower = rng.random() < 0.12 and plane.height > 14
    tint = pick(rng, ((0.25, 0.35, 0.45), (0.3, 0.4, 0.35), (0.5, 0.55, 0.6)))
    cornice = jitter(rng, wall, 0.3)
    length, height = c.width_m, c.height_m
    xs, ys = _grid(c)
    c.labels[:] = L.BUILDING
    if glass_tower:
        c.rgb[:] = tint
        mullion = (np.mod(xs, 1.5) < 0.1) | (np.mod(ys, 3.2) < 0.15)
        c.rgb[np.broadcast_to(mullion, c.labels.shape)] = (0.6, 0.62, 0.65)
    else:
        c.rgb[:] = wall
        if wall[0] > wall[2] * 1.6:  # brick: mortar courses
            c.rgb[np.broadcast_to(np.mod(ys, 0.3) < 0.04, c.labels.shape)] *= 0.85
        _windows(c, detail, wall, night, 0.3, length - 0.3)
    c.rgb[np.broadcast_to(ys > height - 0.45, c.labels.shape)] = cornice
    c.texture(detail, 0.16, cells=max(length / 2.0, 1.0))
    ramp = np.linspace(1.05, 0.85, c.h, dtype=np.float32) ** (0.5 if not end else 1.0)
    c.rgb *= ramp[:, None, None]
    c.snow_cap(detail, snow, L.BUILDING, 0.35)


def _farmhouse(plane: Plane, rng: np.random.Generator, detail: np.random.Generator,
               c: Canvas, snow: float, night: bool, end: bool) -> None:
    wall = pick(rng, ((0.85, 0.82, 0.72), (0.6, 0.18, 0.12), (0.75, 0.7, 0.6)), 0.08)
    roof = pick(rng, ((0.5, 0.15, 0.1), (0.25, 0.25, 0.27), (0.4, 0.3, 0.2)))
    length, height = c.width_m, c.height_m
    eave = height * 0.55
    c.rect(0, 0, length, eave, wall, L.BUILDING)
    if end:  # gable end
        c.poly([(0, eave), (length, eave), (length / 2, height)], wall, L.BUILDING)
    else:
        c.poly([(0, eave), (length, eave), (length - 1, height), (1, height)], roof, L.BUILDING)
    for x in np.arange(1.5, length - 1.0, 3.0):
        lit = night and detail.random() < 0.4
        c.rect(x, 1.2, x + 1.0, 2.4, (0.12, 0.12, 0.14) if not lit else (0.7, 0.55, 0.3),
               L.BUILDING, emit=(1.0, 0.75, 0.4) if lit else None)
    c.texture(detail, 0.2, cells=max(length / 2.0, 1.0))
    c.snow_cap(detail, snow, L.BUILDING, 0.6)


def _vegetation(plane: Plane, rng: np.random.Generator, detail: np.random.Generator,
                c: Canvas, snow: float, night: bool, end: bool) -> None:
    forest = plane.kind == "forest"
    base = pick(rng, LEAVES if not forest else ((0.08, 0.16, 0.07), (0.12, 0.2, 0.08),
                                                 (0.1, 0.14, 0.08)), 0.15)
    xs, ys = _grid(c)
    xs = xs[0]
    if forest:
        crowns = noise.at(int(detail.integers(64)), 2.0, xs * 1.3, np.zeros_like(xs))
        top = c.height_m * (0.55 + 0.45 * crowns)
    else:
        bumps = noise.at(int(detail.integers(64)), 1.0, xs * 4.0, np.full_like(xs, 9.0))
        top = c.height_m * (0.85 + 0.15 * bumps)
    inside = ys <= top[None, :]
    c.labels[inside] = L.VEGETATION
    c.rgb[:] = base
    c.texture(detail, 0.7, cells=max(c.w / 3.0, 1.0))
    if forest:  # trunks in the shade below the crowns
        trunks = noise.at(5, 0.5, xs * 2.5, np.zeros_like(xs))[None, :] > 0.75
        c.rgb[trunks & (ys < c.height_m * 0.35) & inside] *= 0.5
        c.rgb *= np.clip(0.45 + ys / c.height_m, 0.45, 1.1)[:, :, None]
    c.snow_cap(detail, snow, L.VEGETATION, 0.5)


def _wall_or_fence(plane: Plane, rng: np.random.Generator, detail: np.random.Generator,
                   c: Canvas, snow: float, night: bool, end: bool) -> None:
    label = L.WALL if plane.kind == "wall" else L.FENCE
    if plane.kind == "wall":
        color = pick(rng, ((0.6, 0.6, 0.58), (0.55, 0.5, 0.45), (0.5, 0.32, 0.25),
                           (0.75, 0.73, 0.68)), 0.1)
        style = "solid"
    else:
        color = pick(rng, ((0.15, 0.17, 0.15), (0.45, 0.46, 0.47), (0.45, 0.33, 0.22),
                           (0.2, 0.3, 0.22), (0.7, 0.7, 0.68)), 0.1)
        style = str(rng.choice(["bars", "mesh", "rails", "planks"]))
    xs, ys = _grid(c)
    h = c.height_m
    px = 1.0 / c.ppm  # thin parts stay at least a pixel wide
    if style == "solid":
        solid = np.ones(c.labels.shape, bool)
    elif style == "bars":
        solid = (np.mod(xs, 0.14) < max(0.035, px)) | (np.abs(ys - 0.1) < 0.04) | (
            np.abs(ys - (h - 0.1)) < 0.04)
    elif style == "mesh":
        a, b = np.mod(xs + ys, 0.25), np.mod(xs - ys, 0.25)
        solid = (a < max(0.025, px)) | (b < max(0.025, px)) | (ys > h - 0.05) | (
            np.mod(xs, 2.5) < max(0.06, px))
    elif style == "rails":
        solid = (np.mod(xs, 2.2) < 0.14) | (np.abs(ys - 0.35 * h) < 0.05) | (
            np.abs(ys - 0.65 * h) < 0.05) | (np.abs(ys - 0.92 * h) < 0.05)
    else:
        solid = (np.mod(xs, 0.16) < 0.13) | (ys < 0.2)
    solid = np.broadcast_to(solid, c.labels.shape)
    c.labels[solid] = label
    c.rgb[:] = color
    if style == "solid":
        c.rgb[np.broadcast_to(ys > h - 0.12, c.labels.shape)] *= 0.8
    c.texture(detail, 0.25, cells=max(c.width_m, 1.0))
    c.snow_cap(detail, snow, label, 0.08)


_MAKERS = {"building": _building, "farmhouse": _farmhouse, "hedge": _vegetation,
           "forest": _vegetation, "wall": _wall_or_fence, "fence": _wall_or_fence}


def plane_sprite(plane: Plane, snow: float, night: bool, end: bool, ppm: float) -> Sprite:
    """One face of a roadside structure, at up to `ppm` pixels per metre.

    end=False: the face along the road; end=True: the end face towards the camera.
    """
    rng = np.random.default_rng(plane.seed)  # colours: shared by both faces
    detail = np.random.default_rng([plane.seed, int(end)])
    length = max(plane.depth, 0.3) if end else plane.z1 - plane.z0
    cap = 40.0 if plane.kind in ("wall", "fence") else _PPM
    c = Canvas(length, plane.height, min(ppm, cap, _MAX_PX / max(length, plane.height, 1.0)))
    _MAKERS[plane.kind](plane, rng, detail, c, snow, night, end)
    return c.sprite()
