"""Cityscapes train ids used by the synthetic world, by name (255: unknown object / ignore)."""

from __future__ import annotations

ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN = 0, 1, 2, 3, 4, 5, 6, 7
VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS = 8, 9, 10, 11, 12, 13, 14, 15
TRAIN, MOTORCYCLE, BICYCLE = 16, 17, 18
UNKNOWN = 255  # objects outside the 19 classes: ignore in the labels, 255 in the anomaly mask
