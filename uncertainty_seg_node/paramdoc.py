"""docs/parameters.md, generated from the node's ParamSpec table (`ros/params.py`).

    python -m uncertainty_seg_node.paramdoc docs/parameters.md     # regenerate
    python -m uncertainty_seg_node.paramdoc                        # print to stdout

Pure text from the table, so `test/test_docs_parameters.py` can compare the file with it and
fail when a parameter changes without the page being regenerated.
"""

from __future__ import annotations

import sys
from pathlib import Path

from uncertainty_seg_node.ros.params import PARAMETERS, ParamSpec, ParamValue

REGENERATE = "tools/dev run python -m uncertainty_seg_node.paramdoc docs/parameters.md"
_HEADER = f"""\
# Node parameters

Generated from the `ParamSpec` table in `uncertainty_seg_node/ros/params.py`; do not edit by
hand. After changing a parameter, regenerate with

    {REGENERATE}

Set them in a params file (the package's [config/params.yaml](../config/params.yaml)) or with
`-p name:=value`; `ros2 param describe /uncertainty_seg_node NAME` shows the same description and
range on a running node. Parameters marked "no" are read once at start (change them and restart
the node); the node rejects an out-of-range or wrongly typed value with the reason. The managed
node (`managed:=true`, [lifecycle.md](lifecycle.md)) takes the same parameters; it accepts a
change of those marked "no" while it is unconfigured (they take effect at the next configure and
activate) and ignores `on_model_error` and `model_retry_period` (a configure that cannot load
the model fails). The topics the node subscribes and publishes are in the
[README](../README.md#topics).

| name | type | default | range or choices | run-time changeable | meaning |
|---|---|---|---|---|---|
"""


def _type_name(spec: ParamSpec) -> str:
    if spec.dynamic_typing:
        return "double or string"
    return {bool: "bool", int: "integer", float: "double", str: "string"}[type(spec.default)]


def _value(value: ParamValue) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _allowed(spec: ParamSpec) -> str:
    if spec.choices:
        return ", ".join(f"`{choice}`" for choice in spec.choices)
    bounds = spec.int_range or spec.float_range
    if bounds is not None:
        return f"[{bounds[0]}, {bounds[1]}]"
    if spec.dynamic_typing:
        return "[0, 1] or `auto`"
    return "–"


def _text(description: str) -> str:
    return description.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def parameters_markdown(parameters: tuple[ParamSpec, ...] = PARAMETERS) -> str:
    """The whole page: a short header and one table row per declared parameter."""
    rows = [
        f"| `{spec.name}` | {_type_name(spec)} | {_value(spec.default)} | {_allowed(spec)} | "
        f"{'no' if spec.read_only else 'yes'} | {_text(spec.description)} |"
        for spec in parameters
    ]
    return _HEADER + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page to the path given, or print it."""
    args = sys.argv[1:] if argv is None else argv
    text = parameters_markdown()
    if args:
        Path(args[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
