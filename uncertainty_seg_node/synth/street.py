"""Street furniture and vegetation seen face-on: poles, lamps, signs, traffic lights, trees.

Pole parts are labelled pole, sign panels traffic sign, light housings traffic light; a tree's
trunk counts as vegetation (as in Cityscapes).
"""

from __future__ import annotations

import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth.canvas import Canvas, Color, Sprite, jitter, pick

METAL: tuple[Color, ...] = ((0.45, 0.46, 0.48), (0.3, 0.32, 0.3), (0.15, 0.2, 0.17),
                            (0.6, 0.6, 0.62), (0.12, 0.12, 0.13))
LEAVES: tuple[Color, ...] = ((0.18, 0.32, 0.1), (0.25, 0.38, 0.12), (0.12, 0.24, 0.1),
                             (0.35, 0.42, 0.15), (0.3, 0.3, 0.12))
BARK: Color = (0.3, 0.24, 0.18)


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
