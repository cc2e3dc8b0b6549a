"""Objects seen face-on: vehicles, people, poles, lamps, signs, traffic lights, trees.

Each maker draws one instance from its own generator: sizes, colours and details vary per
instance, and colours overlap across classes (grey cars, grey poles, grey buildings; green cars
and green leaves) so that only shape and texture tell the classes apart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth.canvas import Canvas, Color, Sprite, jitter, pick

PAINT: tuple[Color, ...] = (
    (0.55, 0.56, 0.58), (0.75, 0.76, 0.78), (0.9, 0.9, 0.9), (0.08, 0.08, 0.09), (0.3, 0.31, 0.33),
    (0.55, 0.08, 0.07), (0.1, 0.18, 0.45), (0.15, 0.3, 0.18), (0.6, 0.55, 0.45),
    (0.35, 0.25, 0.18), (0.8, 0.7, 0.2),
)
CLOTHES: tuple[Color, ...] = (
    (0.1, 0.1, 0.12), (0.3, 0.3, 0.32), (0.55, 0.55, 0.55), (0.85, 0.85, 0.82), (0.6, 0.1, 0.1),
    (0.12, 0.2, 0.45), (0.2, 0.35, 0.2), (0.7, 0.6, 0.3), (0.45, 0.3, 0.2), (0.5, 0.4, 0.6),
)
SKIN: tuple[Color, ...] = ((0.85, 0.68, 0.55), (0.65, 0.45, 0.32), (0.4, 0.27, 0.18),
                           (0.9, 0.75, 0.65))
METAL: tuple[Color, ...] = ((0.45, 0.46, 0.48), (0.3, 0.32, 0.3), (0.15, 0.2, 0.17),
                            (0.6, 0.6, 0.62), (0.12, 0.12, 0.13))
LEAVES: tuple[Color, ...] = ((0.18, 0.32, 0.1), (0.25, 0.38, 0.12), (0.12, 0.24, 0.1),
                             (0.35, 0.42, 0.15), (0.3, 0.3, 0.12))
BARK: Color = (0.3, 0.24, 0.18)
GLASS: Color = (0.1, 0.13, 0.17)


def _finish(c: Canvas, rng: np.random.Generator, snow: float, label: int,
            strength: float = 0.18) -> None:
    c.texture(rng, strength)
    c.gradient(1.08, 0.82)
    c.snow_cap(rng, snow, label)


def car(rng: np.random.Generator, facing: int, snow: float) -> Sprite:
    """A car seen from behind (facing +1) or from the front (-1)."""
    w, h = float(rng.uniform(1.65, 1.95)), float(rng.uniform(1.35, 1.75))
    c = Canvas(w, h, 30)
    body = pick(rng, PAINT)
    dark = (0.04, 0.04, 0.045)
    for x in (0.1 * w, 0.72 * w):
        c.rect(x, 0.0, x + 0.18 * w, 0.32, dark, L.CAR)
    c.poly([(0.0, 0.2), (w, 0.2), (w, 0.5 * h), (0.96 * w, 0.58 * h), (0.04 * w, 0.58 * h),
            (0.0, 0.5 * h)], body, L.CAR)
    roof = float(rng.uniform(0.15, 0.22))
    c.poly([(0.06 * w, 0.57 * h), (0.94 * w, 0.57 * h), ((1 - roof) * w, h), (roof * w, h)],
           body, L.CAR)
    glass = jitter(rng, GLASS, 0.3)
    c.poly([(0.14 * w, 0.61 * h), (0.86 * w, 0.61 * h), ((1 - roof - 0.04) * w, 0.95 * h),
            ((roof + 0.04) * w, 0.95 * h)], glass, L.CAR)
    c.poly([(0.3 * w, 0.61 * h), (0.42 * w, 0.61 * h), (0.55 * w, 0.95 * h), (0.45 * w, 0.95 * h)],
           tuple(min(1.0, g + 0.12) for g in glass), L.CAR)  # type: ignore[arg-type]
    c.rect(0.0, 0.2, w, 0.3, (0.08, 0.08, 0.08), L.CAR)
    c.rect(0.4 * w, 0.32, 0.6 * w, 0.42, (0.85, 0.85, 0.8), L.CAR)
    if facing > 0:
        for x in (0.03 * w, 0.8 * w):
            c.rect(x, 0.44 * h, x + 0.17 * w, 0.53 * h, (0.6, 0.05, 0.04), L.CAR,
                   emit=(0.9, 0.05, 0.02))
    else:
        c.rect(0.3 * w, 0.32 * h, 0.7 * w, 0.45 * h, (0.06, 0.06, 0.06), L.CAR)
        for x in (0.12 * w, 0.88 * w):
            c.ellipse(x, 0.45 * h, 0.09 * w, 0.05 * h, (0.85, 0.85, 0.78), L.CAR,
                      emit=(1.6, 1.5, 1.2))
    _finish(c, rng, snow, L.CAR, 0.12)
    return c.sprite()


def truck(rng: np.random.Generator, facing: int, snow: float) -> Sprite:
    """A lorry or van: a tall box with dual wheels."""
    w, h = float(rng.uniform(2.1, 2.55)), float(rng.uniform(2.4, 3.8))
    c = Canvas(w, h, 22)
    box = pick(rng, PAINT + ((0.85, 0.85, 0.82),) * 3)
    for x in (0.05 * w, 0.7 * w):
        c.rect(x, 0.0, x + 0.25 * w, 0.55, (0.04, 0.04, 0.04), L.TRUCK)
    c.rect(0.0, 0.35, w, h, box, L.TRUCK)
    if facing > 0:
        for k in range(1, 4):
            c.rect(k * w / 4 - 0.02, 0.5, k * w / 4 + 0.02, h - 0.1, jitter(rng, box, 0.2),
                   L.TRUCK)
        for x in (0.02 * w, 0.86 * w):
            c.rect(x, 0.45, x + 0.12 * w, 0.62, (0.6, 0.05, 0.04), L.TRUCK,
                   emit=(0.9, 0.05, 0.02))
    else:
        c.rect(0.08 * w, 0.55 * h, 0.92 * w, 0.85 * h, jitter(rng, GLASS, 0.3), L.TRUCK)
        c.rect(0.25 * w, 0.45, 0.75 * w, 0.3 * h, (0.1, 0.1, 0.1), L.TRUCK)
        for x in (0.1 * w, 0.9 * w):
            c.ellipse(x, 0.6, 0.08 * w, 0.1, (0.9, 0.9, 0.8), L.TRUCK, emit=(1.6, 1.5, 1.2))
    c.rect(0.0, 0.35, w, 0.45, (0.1, 0.1, 0.1), L.TRUCK)
    _finish(c, rng, snow, L.TRUCK, 0.14)
    return c.sprite()


def bus(rng: np.random.Generator, facing: int, snow: float, label: int = L.BUS) -> Sprite:
    """A bus (or, with label TRAIN, a tram with a pantograph)."""
    w, h = float(rng.uniform(2.45, 2.6)), float(rng.uniform(2.9, 3.3))
    tram = label == L.TRAIN
    top = h + (0.7 if tram else 0.0)
    c = Canvas(w, top, 22)
    colors = ((0.85, 0.7, 0.1), (0.75, 0.1, 0.08), (0.15, 0.3, 0.6), (0.88, 0.88, 0.86),
              (0.2, 0.45, 0.3))
    paint = pick(rng, colors)
    if not tram:
        for x in (0.06 * w, 0.72 * w):
            c.rect(x, 0.0, x + 0.22 * w, 0.5, (0.04, 0.04, 0.04), label)
    c.rect(0.0, 0.25, w, h, paint, label)
    c.rect(0.05 * w, 0.42 * h, 0.95 * w, 0.9 * h, jitter(rng, GLASS, 0.3), label)
    c.rect(0.2 * w, 0.86 * h, 0.8 * w, 0.95 * h, (0.1, 0.08, 0.05), label,
           emit=(1.2, 0.6, 0.1) if facing < 0 else None)
    light = (0.9, 0.9, 0.8) if facing < 0 else (0.6, 0.05, 0.04)
    glow = (1.6, 1.5, 1.2) if facing < 0 else (0.9, 0.05, 0.02)
    for x in (0.1 * w, 0.9 * w):
        c.ellipse(x, 0.3 * h, 0.06 * w, 0.05 * h, light, label, emit=glow)
    if tram:
        c.line(0.5 * w, h, 0.3 * w, h + 0.4, 0.05, (0.15, 0.15, 0.15), label)
        c.line(0.3 * w, h + 0.4, 0.6 * w, top, 0.05, (0.15, 0.15, 0.15), label)
    _finish(c, rng, snow, label, 0.12)
    return c.sprite()


def person(rng: np.random.Generator, phase: float, snow: float, label: int = L.PERSON,
           legs: bool = True) -> Canvas:
    """A pedestrian (front or back view); `phase` animates the stride. Returns the canvas."""
    hgt = float(rng.uniform(1.5, 1.92))
    c = Canvas(0.7, hgt, 44)
    skin, shirt, trousers = pick(rng, SKIN, 0.05), pick(rng, CLOTHES), pick(rng, CLOTHES)
    hair = pick(rng, ((0.08, 0.06, 0.05), (0.3, 0.2, 0.1), (0.7, 0.6, 0.35), (0.5, 0.5, 0.5)))
    hip, shoulder = 0.52 * hgt, 0.8 * hgt
    stride = 0.12 * np.sin(phase) if legs else 0.0
    if legs:
        for sgn in (-1, 1):
            foot = 0.35 + sgn * (0.07 + stride * sgn)
            c.line(0.35 + sgn * 0.06, hip, foot, 0.06, 0.11, trousers, label)
            c.rect(foot - 0.06, 0.0, foot + 0.07, 0.07, (0.07, 0.06, 0.06), label)
    if rng.random() < 0.25:  # skirt or long coat
        c.poly([(0.2, 0.35 * hgt), (0.5, 0.35 * hgt), (0.46, hip + 0.05), (0.24, hip + 0.05)],
               shirt, label)
    c.poly([(0.18, hip), (0.52, hip), (0.55, shoulder), (0.15, shoulder)], shirt, label)
    arm = 0.08 * np.cos(phase)
    c.line(0.16, shoulder - 0.03, 0.12 - arm, hip - 0.05, 0.08, shirt, label)
    c.line(0.54, shoulder - 0.03, 0.58 + arm, hip - 0.05, 0.08, shirt, label)
    c.ellipse(0.35, shoulder + 0.035, 0.05, 0.05, skin, label)
    c.ellipse(0.35, hgt - 0.11, 0.085, 0.105, skin, label)
    c.ellipse(0.35, hgt - 0.07, 0.09, 0.07, hair, label)
    if rng.random() < 0.3:  # a bag or a backpack
        c.rect(0.5, hip - 0.1, 0.66, hip + 0.12, pick(rng, CLOTHES), label)
    c.texture(rng, 0.15)
    c.snow_cap(rng, snow * 0.5, label, 0.04)
    return c


def rider(rng: np.random.Generator, snow: float, motor: bool) -> Sprite:
    """A cyclist or motorcyclist seen from behind: the vehicle (bicycle / motorcycle) + rider."""
    vehicle = L.MOTORCYCLE if motor else L.BICYCLE
    base = person(rng, 0.0, snow, L.RIDER, legs=False)
    keep = round(0.58 * base.height_m * base.ppm)  # hips and up: the rider sits
    c = Canvas(0.8, 0.85 + keep / base.ppm, base.ppm)
    x0 = (c.w - base.w) // 2
    solid = base.labels[:keep] != 254
    c.rgb[:keep, x0:x0 + base.w][solid] = base.rgb[:keep][solid]
    c.labels[:keep, x0:x0 + base.w][solid] = base.labels[:keep][solid]
    hip = c.height_m - 0.3 * base.height_m
    trousers = tuple(float(v) for v in base.rgb[keep - 2, base.w // 2])
    for foot in (0.22, 0.58):
        c.line(0.4, hip, foot, 0.4, 0.1, trousers, L.RIDER)  # type: ignore[arg-type]
    frame = pick(rng, METAL + PAINT)
    wheel = 0.14 if motor else 0.05
    c.rect(0.4 - wheel / 2, 0.0, 0.4 + wheel / 2, 0.68, (0.05, 0.05, 0.05), vehicle)
    c.rect(0.37, 0.55, 0.43, 0.95, frame, vehicle)
    c.rect(0.1, 0.95, 0.7, 1.0, frame, vehicle)
    if motor:
        c.rect(0.22, 0.45, 0.58, 0.9, frame, vehicle)
        c.rect(0.34, 0.62, 0.46, 0.7, (0.6, 0.05, 0.04), vehicle, emit=(0.9, 0.05, 0.02))
    return c.sprite()


def bicycle(rng: np.random.Generator, snow: float) -> Sprite:
    """A parked bicycle seen from the side: two rings and a frame, see-through."""
    c = Canvas(1.75, 1.05, 40)
    frame, black = pick(rng, METAL + PAINT), (0.05, 0.05, 0.05)
    for x in (0.38, 1.37):
        c.ring(x, 0.35, 0.33, 0.05, black, L.BICYCLE)
    for a, b in (((0.38, 0.35), (0.8, 0.35)), ((0.8, 0.35), (0.7, 0.8)),
                 ((0.38, 0.35), (0.7, 0.8)), ((0.7, 0.8), (1.25, 0.78)),
                 ((0.8, 0.35), (1.25, 0.78)), ((1.25, 0.78), (1.37, 0.35)),
                 ((1.25, 0.78), (1.2, 0.98))):
        c.line(a[0], a[1], b[0], b[1], 0.04, frame, L.BICYCLE)
    c.rect(0.6, 0.86, 0.8, 0.9, black, L.BICYCLE)
    c.rect(1.1, 0.96, 1.3, 1.0, black, L.BICYCLE)
    return c.sprite()


def pole(rng: np.random.Generator, snow: float, wood: bool = False) -> Sprite:
    """A plain pole (metal), or a wooden utility pole with a cross-arm."""
    hgt = float(rng.uniform(7.0, 9.5) if wood else rng.uniform(3.0, 7.0))
    width = float(rng.uniform(0.22, 0.3) if wood else rng.uniform(0.1, 0.2))
    c = Canvas(1.6 if wood else width, hgt, 30)
    color = pick(rng, ((0.35, 0.26, 0.18), (0.28, 0.22, 0.17))) if wood else pick(rng, METAL)
    mid = c.width_m / 2
    c.rect(mid - width / 2, 0.0, mid + width / 2, hgt, color, L.POLE)
    if wood:
        c.rect(0.05, hgt - 0.7, 1.55, hgt - 0.58, color, L.POLE)
        for x in (0.15, 0.8, 1.45):
            c.rect(x - 0.04, hgt - 0.58, x + 0.04, hgt - 0.45, (0.6, 0.62, 0.6), L.POLE)
    c.texture(rng, 0.3 if wood else 0.15)
    c.snow_cap(rng, snow, L.POLE, 0.05)
    return c.sprite()


def lamp(rng: np.random.Generator, facing: int, snow: float) -> Sprite:
    """A street lamp; its arm reaches over the road (to the left when facing is +1)."""
    hgt, arm = float(rng.uniform(6.0, 9.0)), float(rng.uniform(1.2, 2.4))
    c = Canvas(arm + 0.4, hgt, 26)
    metal = pick(rng, METAL)
    px = arm + 0.2 if facing > 0 else 0.2
    hx = 0.2 if facing > 0 else arm + 0.2
    c.rect(px - 0.09, 0.0, px + 0.09, hgt - 0.2, metal, L.POLE)
    c.line(px, hgt - 0.3, hx, hgt - 0.15, 0.08, metal, L.POLE)
    c.rect(hx - 0.25, hgt - 0.3, hx + 0.25, hgt - 0.12, metal, L.POLE)
    c.rect(hx - 0.2, hgt - 0.34, hx + 0.2, hgt - 0.28, (0.85, 0.8, 0.6), L.POLE,
           emit=(2.4, 1.6, 0.7))
    c.texture(rng, 0.12)
    c.snow_cap(rng, snow, L.POLE, 0.05)
    return c.sprite(anchor=px / c.width_m)


def sign(rng: np.random.Generator, snow: float, rural: bool = False) -> Sprite:
    """A traffic sign: one or two panels on a pole."""
    hgt = float(rng.uniform(2.3, 3.1))
    size = float(rng.uniform(0.55, 0.9))
    c = Canvas(size + 0.1, hgt, 40)
    mid = c.width_m / 2
    c.rect(mid - 0.04, 0.0, mid + 0.04, hgt - size / 2, pick(rng, METAL), L.POLE)
    panels = 1 if rural or rng.random() < 0.7 else 2
    red, white = (0.7, 0.06, 0.06), (0.9, 0.9, 0.88)
    blue, yellow = (0.08, 0.2, 0.6), (0.9, 0.75, 0.1)
    for k in range(panels):
        cy = hgt - size / 2 - k * size * 1.05
        r = size / 2
        shape = "diamond" if rural and rng.random() < 0.7 else str(
            rng.choice(["circle", "triangle", "rect", "octagon", "circle_blue"]))
        if shape == "circle":
            c.ellipse(mid, cy, r, r, red, L.SIGN)
            c.ellipse(mid, cy, 0.78 * r, 0.78 * r, white, L.SIGN)
            c.rect(mid - 0.3 * r, cy - 0.25 * r, mid + 0.3 * r, cy + 0.25 * r, (0.1,) * 3, L.SIGN)
        elif shape == "circle_blue":
            c.ellipse(mid, cy, r, r, blue, L.SIGN)
            c.line(mid - 0.4 * r, cy - 0.4 * r, mid + 0.4 * r, cy + 0.4 * r, 0.15 * r, white,
                   L.SIGN)
        elif shape == "triangle":
            c.poly([(mid - r, cy - 0.8 * r), (mid + r, cy - 0.8 * r), (mid, cy + r)], red, L.SIGN)
            c.poly([(mid - 0.7 * r, cy - 0.62 * r), (mid + 0.7 * r, cy - 0.62 * r),
                    (mid, cy + 0.62 * r)], white, L.SIGN)
        elif shape == "octagon":
            t = np.linspace(0, 2 * np.pi, 9)[:-1] + np.pi / 8
            c.poly(list(zip(mid + r * np.cos(t), cy + r * np.sin(t))), red, L.SIGN)
            c.rect(mid - 0.6 * r, cy - 0.12 * r, mid + 0.6 * r, cy + 0.12 * r, white, L.SIGN)
        elif shape == "diamond":
            c.poly([(mid - r, cy), (mid, cy - r), (mid + r, cy), (mid, cy + r)], yellow, L.SIGN)
            c.poly([(mid - 0.12 * r, cy - 0.4 * r), (mid + 0.12 * r, cy - 0.4 * r),
                    (mid, cy + 0.45 * r)], (0.08,) * 3, L.SIGN)
        else:
            c.rect(mid - r, cy - 0.7 * r, mid + r, cy + 0.7 * r, blue if k else white, L.SIGN)
            c.rect(mid - 0.8 * r, cy - 0.15 * r, mid + 0.5 * r, cy + 0.15 * r,
                   white if k else (0.1,) * 3, L.SIGN)
    c.texture(rng, 0.1)
    c.snow_cap(rng, snow, L.SIGN, 0.04)
    return c.sprite()


def traffic_light(rng: np.random.Generator, facing: int, snow: float, arm: bool) -> Sprite:
    """A traffic light on a pole (or hanging from an arm over the road)."""
    hgt = float(rng.uniform(5.2, 6.2) if arm else rng.uniform(2.8, 3.6))
    reach = float(rng.uniform(3.0, 5.0)) if arm else 0.0
    c = Canvas(reach + 0.6, hgt + 0.2, 36)
    metal = pick(rng, METAL)
    px = reach + 0.3 if facing > 0 else 0.3
    hx = px - reach if facing > 0 else px + reach
    c.rect(px - 0.07, 0.0, px + 0.07, hgt, metal, L.POLE)
    if arm:
        c.rect(min(px, hx), hgt - 0.12, max(px, hx), hgt, metal, L.POLE)
    top = hgt - 0.05 if not arm else hgt - 0.12
    housing = pick(rng, ((0.08, 0.08, 0.08), (0.75, 0.6, 0.1), (0.2, 0.22, 0.2)), 0.05)
    c.rect(hx - 0.17, top - 0.95, hx + 0.17, top, housing, L.LIGHT)
    lit = int(rng.integers(3))
    lamps = ((0.9, 0.1, 0.05), (0.95, 0.6, 0.05), (0.1, 0.85, 0.3))
    for k, col in enumerate(lamps):
        cy = top - 0.18 - k * 0.3
        on = k == lit
        color = col if on else tuple(v * 0.25 for v in col)
        c.ellipse(hx, cy, 0.1, 0.1, color, L.LIGHT,  # type: ignore[arg-type]
                  emit=tuple(2.0 * v for v in col) if on else None)  # type: ignore[arg-type]
    c.texture(rng, 0.1)
    c.snow_cap(rng, snow, L.LIGHT, 0.04)
    return c.sprite(anchor=px / c.width_m)


def tree(rng: np.random.Generator, snow: float, kind: str = "tree") -> Sprite:
    """A deciduous tree, a conifer or a bush (all vegetation, trunk included)."""
    leaves = pick(rng, LEAVES, 0.15)
    if kind == "bush":
        w, h = float(rng.uniform(0.8, 2.5)), float(rng.uniform(0.6, 1.6))
        c = Canvas(w, h, 30)
        for _ in range(6):
            rx, ry = float(rng.uniform(0.25, 0.45)) * w, float(rng.uniform(0.3, 0.5)) * h
            c.ellipse(float(rng.uniform(rx, w - rx)), ry, rx, ry, jitter(rng, leaves, 0.1),
                      L.VEGETATION)
    elif kind == "conifer":
        h = float(rng.uniform(5.0, 14.0))
        w = h * float(rng.uniform(0.3, 0.45))
        c = Canvas(w, h, 14)
        c.rect(w / 2 - 0.15, 0.0, w / 2 + 0.15, 0.3 * h, BARK, L.VEGETATION)
        dark = jitter(rng, (0.08, 0.18, 0.1), 0.2)
        for k in range(5):
            y0 = 0.15 * h + k * 0.16 * h
            half = w / 2 * (1 - k / 6)
            c.poly([(w / 2 - half, y0), (w / 2 + half, y0), (w / 2, y0 + 0.35 * h)],
                   jitter(rng, dark, 0.1), L.VEGETATION)
    else:
        h = float(rng.uniform(4.0, 12.0))
        w = h * float(rng.uniform(0.5, 0.8))
        c = Canvas(w, h, 14)
        trunk = float(rng.uniform(0.25, 0.45)) * h
        c.rect(w / 2 - 0.14, 0.0, w / 2 + 0.14, trunk + 0.5, jitter(rng, BARK, 0.2),
               L.VEGETATION)
        for _ in range(int(rng.integers(5, 9))):
            rx = float(rng.uniform(0.18, 0.32)) * w
            ry = float(rng.uniform(0.12, 0.22)) * h
            cx = float(rng.uniform(rx, w - rx))
            cy = float(rng.uniform(trunk + ry * 0.6, h - ry))
            c.ellipse(cx, cy, rx, ry, jitter(rng, leaves, 0.12), L.VEGETATION)
    mask = c.mask(L.VEGETATION)
    c.texture(rng, 0.55, cells=c.w / 4.0, where=mask)
    c.gradient(1.1, 0.7)
    c.snow_cap(rng, snow, L.VEGETATION, 0.25)
    return c.sprite()


MAKERS: dict[str, Callable[[np.random.Generator, int, float, float], Sprite]] = {
    "car": lambda r, f, s, p: car(r, f, s),
    "truck": lambda r, f, s, p: truck(r, f, s),
    "bus": lambda r, f, s, p: bus(r, f, s),
    "tram": lambda r, f, s, p: bus(r, f, s, L.TRAIN),
    "motorcycle": lambda r, f, s, p: rider(r, s, motor=True),
    "cyclist": lambda r, f, s, p: rider(r, s, motor=False),
    "bicycle": lambda r, f, s, p: bicycle(r, s),
    "person": lambda r, f, s, p: person(r, p, s).sprite(),
    "pole": lambda r, f, s, p: pole(r, s),
    "utility_pole": lambda r, f, s, p: pole(r, s, wood=True),
    "lamp": lambda r, f, s, p: lamp(r, f, s),
    "sign": lambda r, f, s, p: sign(r, s),
    "sign_rural": lambda r, f, s, p: sign(r, s, rural=True),
    "light": lambda r, f, s, p: traffic_light(r, f, s, arm=False),
    "light_arm": lambda r, f, s, p: traffic_light(r, f, s, arm=True),
    "tree": lambda r, f, s, p: tree(r, s),
    "conifer": lambda r, f, s, p: tree(r, s, "conifer"),
    "bush": lambda r, f, s, p: tree(r, s, "bush"),
}
