"""Objects seen face-on: vehicles and people (street furniture and trees: `street`).

Each maker draws one instance from its own generator: sizes, colours and details vary per
instance, and colours overlap across classes (grey cars, grey poles, grey buildings; green cars
and green leaves) so that only shape and texture tell the classes apart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth.canvas import Canvas, Color, Sprite, jitter, pick
from uncertainty_seg_node.synth.street import METAL, lamp, pole, sign, traffic_light, tree

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
