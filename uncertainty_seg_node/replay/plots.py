"""Report figures (matplotlib, Agg backend, imported lazily) and the example-frame panels.

Every plot function takes plain arrays and writes one PNG; none of them needs a model or a bag,
so they are tested on their own. The example panel is composed with numpy + OpenCV (no
matplotlib), because the replay builds panels while it streams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from uncertainty_seg_node.visualize import error_map, output_images


@dataclass(frozen=True)
class CurveSet:
    """One method's misclassification-detection curves, indexed by threshold (ascending)."""

    p_ac: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fbeta: np.ndarray


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _thin(curve: CurveSet, max_points: int = 800) -> CurveSet:
    """Subsample a 10,000-level curve for plotting (the maximum point is kept)."""
    n = curve.p_ac.size
    if n <= max_points:
        return curve
    keep = np.unique(np.concatenate([
        np.linspace(0, n - 1, max_points).astype(np.int64),
        [int(np.nanargmax(curve.fbeta))] if np.any(np.isfinite(curve.fbeta)) else [],
    ]).astype(np.int64))
    return CurveSet(curve.p_ac[keep], curve.precision[keep], curve.recall[keep], curve.fbeta[keep])


def plot_f05_against_pac(curves: Mapping[str, CurveSet], path: Path, beta: float = 0.5) -> Path:
    """The paper's Fig. 3: F0.5 (left) and precision / recall (right) against p(a, c)."""
    plt = _pyplot()
    fig, (ax_f, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, full in curves.items():
        curve = _thin(full)
        (line,) = ax_f.plot(curve.p_ac, curve.fbeta, label=name)
        if np.any(np.isfinite(curve.fbeta)):
            best = int(np.nanargmax(curve.fbeta))
            ax_f.plot(curve.p_ac[best], curve.fbeta[best], "o", color=line.get_color())
        ax_pr.plot(curve.p_ac, curve.precision, color=line.get_color(), label=f"{name} precision")
        ax_pr.plot(curve.p_ac, curve.recall, "--", color=line.get_color(), label=f"{name} recall")
    ax_f.set_xlabel("p(a, c)  (fraction accurate and certain)")
    ax_f.set_ylabel(f"F{beta:g}")
    ax_f.set_title(f"F{beta:g} against p(a, c); dot = MaxF{beta:g}")
    ax_pr.set_xlabel("p(a, c)")
    ax_pr.set_ylabel("precision / recall")
    ax_pr.set_title("precision (solid) and recall (dashed)")
    for ax in (ax_f, ax_pr):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    ax_f.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_reliability(
    bin_confidence: np.ndarray,
    bin_accuracy: np.ndarray,
    bin_count: np.ndarray,
    path: Path,
    *,
    ece: float | None = None,
) -> Path:
    """Reliability diagram: accuracy per confidence bin against the diagonal, counts below."""
    plt = _pyplot()
    n = len(bin_count)
    edges = np.linspace(0.0, 1.0, n + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    counts = np.asarray(bin_count, dtype=np.float64)
    occupied = counts > 0
    fig, (ax, ax_n) = plt.subplots(
        2, 1, figsize=(5, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.bar(centers[occupied], np.asarray(bin_accuracy)[occupied], width=1.0 / n,
           edgecolor="k", alpha=0.8, label="accuracy")
    gap = np.asarray(bin_confidence)[occupied] - np.asarray(bin_accuracy)[occupied]
    ax.bar(centers[occupied], gap, bottom=np.asarray(bin_accuracy)[occupied], width=1.0 / n,
           color="red", alpha=0.3, label="gap to confidence")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    title = "reliability diagram"
    if ece is not None and np.isfinite(ece):
        title += f" (ECE {ece:.3f})"
    ax.set_title(title)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    total = counts.sum()
    ax_n.bar(centers, counts / total if total else counts, width=1.0 / n, color="grey")
    ax_n.set_xlabel("confidence")
    ax_n.set_ylabel("share of pixels")
    ax_n.set_xlim(0, 1)
    return _save(fig, path)


def plot_frames_over_time(
    times_s: np.ndarray,
    certain_fraction: np.ndarray,
    error_rate: np.ndarray | None,
    path: Path,
    *,
    domains: Sequence[str] | None = None,
) -> Path:
    """Per-frame certain fraction and (when labelled) error rate against time since start."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.plot(times_s, certain_fraction, lw=1, label="certain fraction")
    if error_rate is not None and np.any(np.isfinite(error_rate)):
        ax.plot(times_s, error_rate, lw=1, color="tab:red", label="error rate (labelled pixels)")
    if domains:
        _shade_domains(ax, np.asarray(times_s, dtype=np.float64), list(domains))
    ax.set_xlabel("time since first frame [s]")
    ax.set_ylabel("fraction of pixels")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    ax.set_title("per-frame certain fraction and error rate")
    return _save(fig, path)


def _shade_domains(ax: Any, times: np.ndarray, domains: list[str]) -> None:
    if not len(times) or len(set(domains)) < 2:
        return
    colours = ["#dddddd", "#c6dbef", "#fdd0a2", "#d9f0d3", "#e7d4e8"]
    names = sorted(set(domains))
    start = 0
    for i in range(1, len(domains) + 1):
        if i == len(domains) or domains[i] != domains[start]:
            end_t = times[i] if i < len(times) else times[-1]
            colour = colours[names.index(domains[start]) % len(colours)]
            ax.axvspan(times[start], end_t, color=colour, alpha=0.5, lw=0)
            ax.text(times[start], 1.0, domains[start], fontsize=7, va="top")
            start = i


def plot_scatter(
    x: np.ndarray, y: np.ndarray, path: Path, *, xlabel: str, ylabel: str, title: str
) -> Path:
    """A plain scatter plot (image-level uncertainty against frame error rate)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(x, y, s=10, alpha=0.7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _titled(tile: np.ndarray, title: str) -> np.ndarray:
    bar = np.full((18, tile.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, title, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


# The node's colour outputs, titled as in the report: the panel shows what RViz shows.
PANEL_TILES = {
    "segmentation_color": "segmentation",
    "confidence_color": "confidence (magenta: uncertain)",
    "certain_mask": "certain mask",
}


def example_panel(image: np.ndarray, class_ids: np.ndarray, confidence: np.ndarray,
                  certain: np.ndarray, palette: Sequence[Sequence[int]] | np.ndarray,
                  labels: np.ndarray | None = None, *, ignore_index: int = 255,
                  max_width: int = 320) -> np.ndarray:
    """Compose image | segmentation | confidence | certain mask | error side by side (RGB)."""
    h, w = class_ids.shape
    scale = min(1.0, max_width / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    drawn = output_images(class_ids, confidence, certain, palette, names=tuple(PANEL_TILES))
    tiles = [(image, "image")] + [(_as_rgb(drawn[name][0]), title)
                                  for name, title in PANEL_TILES.items()]
    if labels is not None:
        tiles.append((error_map(class_ids, labels, ignore_index), "error (red) / ok (green)"))
    gap = np.full((size[1] + 18, 4, 3), 255, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for tile, title in tiles:
        resized = cv2.resize(tile, size, interpolation=cv2.INTER_NEAREST)
        parts.extend([_titled(resized, title), gap])
    return np.concatenate(parts[:-1], axis=1)


def _as_rgb(array: np.ndarray) -> np.ndarray:
    return array if array.ndim == 3 else np.repeat(array[..., None], 3, axis=2)


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write a uint8 RGB (or mono) array as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), array):
        raise OSError(f"could not write {path}")
    return path
