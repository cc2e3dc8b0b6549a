"""Unknown objects: things on or beside the road that are none of the 19 classes.

Animals, lost cargo, debris, tyres, barrels, cones, hay bales, boulders, logs and shapes that
belong to nothing. All are labelled UNKNOWN (255: ignore in the labels, the anomaly mask).
"""

from __future__ import annotations

import numpy as np

from uncertainty_seg_node.synth import labels as L
from uncertainty_seg_node.synth.canvas import Canvas, Sprite, jitter, pick

U = L.UNKNOWN


def _animal(rng: np.random.Generator, kind: str) -> Canvas:
    size = {"dog": (0.8, 0.6), "sheep": (1.2, 0.9), "deer": (1.5, 1.5), "cow": (2.3, 1.5)}[kind]
    length, hgt = size[0] * float(rng.uniform(0.85, 1.15)), size[1] * float(rng.uniform(0.9, 1.1))
    c = Canvas(length * 1.35, hgt * 1.3, 40)
    coat = {
        "dog": ((0.35, 0.25, 0.15), (0.1, 0.08, 0.06), (0.8, 0.7, 0.5)),
        "sheep": ((0.85, 0.83, 0.78), (0.75, 0.72, 0.65)),
        "deer": ((0.5, 0.35, 0.2), (0.6, 0.42, 0.25)),
        "cow": ((0.12, 0.1, 0.09), (0.45, 0.3, 0.2), (0.85, 0.84, 0.8)),
    }[kind]
    body = pick(rng, coat)
    leg = 0.45 * hgt
    x0 = 0.1 * length
    facing = 1 if rng.random() < 0.5 else -1
    for k, lx in enumerate((0.15, 0.3, 0.75, 0.88)):
        shift = 0.04 * length * (1 if k % 2 else -1)
        c.line(x0 + lx * length, leg + 0.1, x0 + lx * length + shift, 0.0, 0.07 * length, body, U)
    c.ellipse(x0 + 0.5 * length, leg + 0.28 * hgt, 0.5 * length, 0.3 * hgt, body, U)
    hx = x0 + (length * 1.05 if facing > 0 else -0.05 * length)
    c.line(x0 + (0.85 if facing > 0 else 0.15) * length, leg + 0.4 * hgt, hx, hgt * 1.05,
           0.12 * length, body, U)
    c.ellipse(hx, hgt * 1.08, 0.11 * length, 0.08 * hgt, body, U)
    if kind == "cow" and rng.random() < 0.7:
        for _ in range(4):
            x = x0 + float(rng.uniform(0.2, 0.8)) * length
            y = leg + float(rng.uniform(0.1, 0.45)) * hgt
            c.ellipse(x, y, 0.1 * length, 0.1 * hgt, (0.9, 0.9, 0.88), U)
    if kind == "deer":
        c.line(hx, hgt * 1.12, hx + 0.1, hgt * 1.25, 0.03, (0.3, 0.25, 0.2), U)
    c.texture(rng, 0.3 if kind == "sheep" else 0.15, cells=c.w / 5.0)
    return c


def _box(rng: np.random.Generator, kind: str) -> Canvas:
    w = float(rng.uniform(0.5, 1.4))
    h = float(rng.uniform(0.4, 1.1))
    c = Canvas(w * 1.25, h * 1.3, 40)
    colors = {"box": ((0.62, 0.45, 0.28), (0.55, 0.4, 0.25), (0.2, 0.35, 0.6)),
              "crate": ((0.6, 0.48, 0.3), (0.45, 0.35, 0.22))}[kind]
    face = pick(rng, colors)
    top = tuple(min(1.0, v * 1.25) for v in face)
    side = tuple(v * 0.7 for v in face)
    d = 0.25 * w
    c.rect(0.0, 0.0, w, h, face, U)
    c.poly([(0.0, h), (w, h), (w + d, h + 0.3 * h), (d, h + 0.3 * h)], top, U)  # type: ignore[arg-type]
    c.poly([(w, 0.0), (w + d, 0.3 * h), (w + d, 1.3 * h), (w, h)], side, U)  # type: ignore[arg-type]
    if kind == "crate":
        for k in range(1, 4):
            c.rect(0.0, k * h / 4 - 0.02, w, k * h / 4 + 0.02, jitter(rng, face, 0.3), U)
    else:
        c.rect(w / 2 - 0.04, 0.0, w / 2 + 0.04, h, (0.8, 0.75, 0.6), U)
    c.texture(rng, 0.15)
    return c


def _round(rng: np.random.Generator, kind: str) -> Canvas:
    if kind == "tyre":
        r = float(rng.uniform(0.3, 0.45))
        c = Canvas(2 * r + 0.1, 2 * r + 0.1, 40)
        c.ring(r + 0.05, r + 0.05, r * 0.8, r * 0.4, (0.06, 0.06, 0.06), U)
    elif kind == "barrel":
        c = Canvas(0.62, 0.9, 40)
        color = pick(rng, ((0.1, 0.25, 0.6), (0.75, 0.3, 0.05), (0.5, 0.2, 0.1),
                           (0.15, 0.45, 0.2)))
        c.rect(0.02, 0.0, 0.6, 0.88, color, U)
        for y in (0.28, 0.58):
            c.rect(0.02, y, 0.6, y + 0.05, (0.2, 0.2, 0.2), U)
    elif kind == "cone":
        c = Canvas(0.8, 0.75, 40)
        for k in range(int(rng.integers(1, 3))):
            x = 0.2 + 0.4 * k
            c.rect(x - 0.18, 0.0, x + 0.18, 0.05, (0.1, 0.1, 0.1), U)
            c.poly([(x - 0.13, 0.05), (x + 0.13, 0.05), (x + 0.03, 0.7), (x - 0.03, 0.7)],
                   (0.95, 0.35, 0.05), U)
            c.rect(x - 0.08, 0.35, x + 0.08, 0.45, (0.95, 0.95, 0.95), U)
    else:  # hay bale
        r = float(rng.uniform(0.6, 0.8))
        c = Canvas(2 * r * 1.3, 2 * r, 30)
        c.ellipse(1.3 * r, r, 1.3 * r, r, (0.8, 0.68, 0.35), U)
        for k in range(4):
            c.ring(1.3 * r, r, r * (0.2 + 0.2 * k), 0.04, (0.65, 0.52, 0.25), U)
    c.texture(rng, 0.2)
    return c


def _blob(rng: np.random.Generator, kind: str) -> Canvas:
    """Debris, boulders, logs and shapes that are nothing in particular."""
    if kind == "log":
        length, hgt = float(rng.uniform(2.0, 4.0)), float(rng.uniform(0.35, 0.6))
        c = Canvas(length, hgt, 30)
        c.ellipse(length / 2, hgt / 2, length / 2, hgt / 2, (0.32, 0.24, 0.16), U)
        c.ellipse(0.15 * length, hgt / 2, 0.06 * length, hgt / 2.2, (0.65, 0.5, 0.32), U)
        c.texture(rng, 0.4, cells=20)
        return c
    w = float(rng.uniform(0.6, 2.0))
    h = w * float(rng.uniform(0.3, 0.7) if kind != "strange" else rng.uniform(0.6, 1.4))
    c = Canvas(w, h, 36)
    n = int(rng.integers(7, 14))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.6, 1.0, n) if kind != "strange" else rng.uniform(0.3, 1.0, n)
    xs = w / 2 + radii * np.cos(angles) * w / 2
    ys = h / 2 + radii * np.sin(angles) * h / 2
    ys = np.maximum(ys, 0.0) if kind != "strange" else ys
    if kind == "boulder":
        color = pick(rng, ((0.45, 0.43, 0.4), (0.5, 0.45, 0.38), (0.35, 0.34, 0.33)))
    elif kind == "debris":
        color = pick(rng, ((0.2, 0.2, 0.2), (0.4, 0.35, 0.3), (0.55, 0.5, 0.45),
                           (0.3, 0.2, 0.15)), 0.15)
    else:
        color = pick(rng, ((0.9, 0.1, 0.8), (0.1, 0.9, 0.9), (0.6, 0.95, 0.1), (0.95, 0.5, 0.0),
                           (0.5, 0.2, 0.9)), 0.1)
    c.poly(list(zip(xs, ys)), color, U)
    if kind == "strange":
        second = pick(rng, ((0.05, 0.05, 0.05), (0.95, 0.95, 0.95), (0.9, 0.9, 0.1)))
        yy, xx = np.mgrid[0:c.h, 0:c.w]
        period = max(2, c.w // int(rng.integers(3, 7)))
        stripes = ((xx + yy * int(rng.integers(0, 2))) // period) % 2 == 0
        if rng.random() < 0.5:
            stripes = ((xx // period) + (yy // period)) % 2 == 0
        sel = stripes & (c.labels == U)
        c.rgb[sel] = second
    elif kind == "debris":
        for _ in range(4):
            x, y = float(rng.uniform(0.1, 0.9)) * w, float(rng.uniform(0.1, 0.6)) * h
            c.line(x, y, x + float(rng.uniform(-0.3, 0.3)), y + float(rng.uniform(0, 0.3)),
                   0.05, pick(rng, ((0.6, 0.6, 0.6), (0.1, 0.1, 0.1), (0.5, 0.3, 0.2))), U)
    c.texture(rng, 0.35 if kind != "strange" else 0.1)
    if kind != "strange":
        c.gradient(1.15, 0.7)
    return c


def anomaly(rng: np.random.Generator, kind: str, snow: float) -> Sprite:
    """The sprite of an unknown object of `kind` (see placement.ANOMALY_KINDS)."""
    if kind in ("dog", "sheep", "deer", "cow"):
        c = _animal(rng, kind)
    elif kind in ("box", "crate"):
        c = _box(rng, kind)
    elif kind in ("tyre", "barrel", "cone", "bale"):
        c = _round(rng, kind)
    else:
        c = _blob(rng, kind)
    c.snow_cap(rng, snow * 0.7, U, 0.05)
    return c.sprite()
