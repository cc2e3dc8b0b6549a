"""The import graph of uncertainty_seg_node/: no circles, and every import goes down the layers.

A "unit" is a top-level module or package of uncertainty_seg_node (`config`, `model`, `ros`...).
`LAYERS` lists them from the bottom up: a unit may import its own modules and units of lower
layers, never those of its own or a higher layer, also not lazily (inside a function), because a
lazy import only hides a circle. Lazy imports are for optional or heavy dependencies: the
third-party names in `LAZY_OK`, and the package's own lower layers (to keep start-up fast).

A new unit: add it to the layer it belongs to. A unit not listed (e.g. one a branch adds
before this table knows it) is only held to the no-circle rules.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "uncertainty_seg_node"
ROOT = PACKAGE.name

LAYERS: list[set[str]] = [
    {"errors"},
    {"atomic", "jsonfile", "share", "gamma", "runtime", "classes", "optional_deps", "cpu_info"},
    {"config"},
    {"imageops", "image_codec", "scores", "losses", "metrics", "visualize"},
    {"model", "bags"},
    {"data", "synth"},
    {"export"},
    {"inference"},
    {"evaluation", "calibration"},
    {"replay", "bench"},
    {"ros", "train"},
    {"ros_drivers"},
    {"cli", "paramdoc"},
    {"__main__"},
]

# Third-party modules that may be imported inside functions: optional or slow to import.
LAZY_OK = {
    "torch", "tensorrt", "onnxruntime", "onnx", "safetensors", "transformers", "matplotlib",
    "tqdm", "cv2", "rosbags", "rclpy", "rcl_interfaces", "cv_bridge", "ament_index_python",
    "builtin_interfaces", "launch", "launch_ros", "launch_testing", "onnxconverter_common",
    "cuda",  # NVIDIA cuda-python: the TensorRT backend's device buffers
    "openvino", "nncf",  # the OpenVINO backend (the [openvino] extra)
}


def _lazy_ok(top: str) -> bool:
    return top in LAZY_OK or top in sys.stdlib_module_names or top.endswith("_msgs")


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (resolved to a module of the package when internal)
    line: int
    lazy: bool  # inside a function


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str:
    """The package module `name` refers to (itself, or the module holding the attribute)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST, lazy: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            continue  # never runs
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, lazy
        inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, inner)


def _imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node, lazy in _walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import sub` imports the module pkg.sub; `from mod import name` mod.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                           for alias in node.names]
            for target in targets:
                if target.split(".")[0] == ROOT:
                    target = _resolve(target)
                if target != module:
                    found.append(Import(module, target, node.lineno, lazy))
    return found


IMPORTS = _imports()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int | None:
    return next((i for i, units in enumerate(LAYERS) if unit in units), None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative enough here)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _internal(lazy_too: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.target in MODULES and (lazy_too or not imp.lazy):
            edges[imp.source].add(imp.target)
    return edges


def test_the_scan_sees_the_package() -> None:
    # Guards against a scan that silently finds nothing (and so can never fail).
    assert len(MODULES) > 100
    edges = _internal(lazy_too=True)
    assert f"{ROOT}.model.artifact" in edges[f"{ROOT}.inference.factory"]
    assert any(imp.lazy and imp.target == "torch" for imp in IMPORTS)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles_between_modules() -> None:
    assert _cycles(_internal(lazy_too=False)) == []


def test_no_import_circles_hidden_behind_lazy_imports() -> None:
    assert _cycles(_internal(lazy_too=True)) == []


def test_no_import_circles_between_units() -> None:
    units: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.target in MODULES and _unit(imp.source) != _unit(imp.target):
            units.setdefault(_unit(imp.source), set()).add(_unit(imp.target))
    assert _cycles(units) == []


def test_imports_go_down_the_layers() -> None:
    against = []
    for imp in IMPORTS:
        if imp.target not in MODULES:
            continue
        source, target = _unit(imp.source), _unit(imp.target)
        low, high = _layer(target), _layer(source)
        if source != target and low is not None and high is not None and low >= high:
            kind = "lazy import" if imp.lazy else "import"
            against.append(f"{imp.source}:{imp.line} {kind} of {imp.target} ({source} is in "
                           f"layer {high}, {target} in layer {low})")
    assert against == [], "\n".join(against)


def test_lazy_imports_are_optional_dependencies_or_lower_layers() -> None:
    offenders = [
        f"{imp.source}:{imp.line} imports {imp.target} inside a function"
        for imp in IMPORTS
        if imp.lazy and imp.target not in MODULES and not _lazy_ok(imp.target.split(".")[0])
    ]
    assert offenders == [], "import these at the top of the module, or add them to LAZY_OK " \
        "if they are optional or slow:\n" + "\n".join(offenders)

