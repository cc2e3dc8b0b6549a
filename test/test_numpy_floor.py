"""setup.py's numpy floor is the newest NumPy feature the package uses, and says which.

A robot keeps the NumPy of its ROS install (1.21.5 on Humble, 1.26.4 on Jazzy): a floor above
what the code needs would make pip replace it. The package is scanned for every `np.X` it uses;
`ADDED` holds the NumPy version that introduced each name added since 1.17 (and the keywords
that came later), so the floor must equal the newest of them. The NumPy 1.x underlay check
(test_apt_underlay.py) runs the node on 1.23.5, the oldest with Python 3.11 wheels.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "uncertainty_seg_node"
BASE = "1.17"  # numpy.random.Generator's; older releases are not considered
ADDED = {
    "random.default_rng": "1.17", "random.Generator": "1.17", "random.SeedSequence": "1.17",
    "broadcast_shapes": "1.20", "typing.NDArray": "1.21",
    "exceptions": "1.25", "dtypes": "1.25",
    "trapezoid": "2.0", "concat": "2.0", "isdtype": "2.0", "permute_dims": "2.0",
    "matrix_transpose": "2.0", "vecdot": "2.0", "bitwise_count": "2.0", "long": "2.0",
    "ulong": "2.0", "pow": "2.0", "acos": "2.0", "asin": "2.0", "atan": "2.0", "atan2": "2.0",
    "acosh": "2.0", "asinh": "2.0", "atanh": "2.0", "bitwise_left_shift": "2.0",
    "bitwise_right_shift": "2.0", "bitwise_invert": "2.0", "unique_all": "2.0",
    "unique_counts": "2.0", "unique_inverse": "2.0", "unique_values": "2.0", "strings": "2.0",
    "linalg.matrix_norm": "2.0", "linalg.vector_norm": "2.0", "linalg.vecdot": "2.0",
    "linalg.svdvals": "2.0", "linalg.matrix_transpose": "2.0",
    "astype": "2.1", "unstack": "2.1", "cumulative_sum": "2.1", "cumulative_prod": "2.1",
}
# (function, keyword) -> version: percentile/quantile's `method` replaced `interpolation`.
KEYWORDS_ADDED = {("percentile", "method"): "1.22", ("quantile", "method"): "1.22",
                  ("unique", "equal_nan"): "1.24"}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in ("np", "numpy"):
        return ".".join(reversed(parts))
    return None


def uses(source: str) -> Iterator[tuple[str, str]]:
    """(feature, version) for each NumPy name or keyword in `source` newer than BASE."""
    for node in ast.walk(ast.parse(source)):
        name = _dotted(node) if isinstance(node, ast.Attribute) else None
        if name:
            for length in (2, 1):
                key = ".".join(name.split(".")[:length])
                if key in ADDED:
                    yield f"np.{key}", ADDED[key]
                    break
        if isinstance(node, ast.Call) and (called := _dotted(node.func)):
            for keyword in node.keywords:
                added = KEYWORDS_ADDED.get((called, keyword.arg or ""))
                if added:
                    yield f"np.{called}({keyword.arg}=)", added


def setup_floor() -> str:
    match = re.search(r'"numpy>=([\d.]+)"', (REPO / "setup.py").read_text())
    assert match, "setup.py has no numpy>= requirement"
    return match.group(1)


def test_the_floor_is_the_newest_feature_used() -> None:
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for feature, version in uses(path.read_text()):
            found.setdefault(feature, (version, str(path.relative_to(REPO))))
    newest = max([(BASE, "nothing newer than NumPy's Generator API", "")]
                 + [(v, f, where) for f, (v, where) in found.items()],
                 key=lambda item: _version(item[0]))
    assert _version(setup_floor()) == _version(newest[0]), (
        f"setup.py says numpy>={setup_floor()}, but the newest NumPy feature the package uses "
        f"is {newest[1]} ({newest[2]}), added in {newest[0]}: make the floor numpy>={newest[0]}")
    assert _version(setup_floor()) < (2,), "a robot's ROS install has NumPy 1.x"


def test_the_scan_sees_names_and_keywords() -> None:
    """The check can fail: a NumPy 2 name or a 1.22 keyword is found."""
    assert list(uses("import numpy as np\nnp.trapezoid([1, 2])")) == [("np.trapezoid", "2.0")]
    assert list(uses("np.percentile(x, 50, method='nearest')")) == [
        ("np.percentile(method=)", "1.22")]
    assert list(uses("np.random.default_rng(0).normal()")) == [("np.random.default_rng", "1.17")]
    assert list(uses("np.zeros(3)")) == []
