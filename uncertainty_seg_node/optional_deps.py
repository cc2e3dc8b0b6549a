"""Optional dependencies: check them before a command starts its work, name the extra to install.

A command calls `require` before any work, so a missing extra stops it with one line naming
what to install, not after it has streamed a whole bag (say) and reached the report's plots.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from uncertainty_seg_node.errors import UserError

# module -> the setup.py extra that installs it
EXTRA_OF = {"matplotlib": "eval", "torch": "train", "transformers": "train", "onnx": "onnx",
            "tensorrt": "tensorrt", "openvino": "openvino", "nncf": "openvino"}


def missing(modules: Iterable[str]) -> list[str]:
    """The modules of `modules` that cannot be imported."""
    absent = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            absent.append(name)
    return absent


def import_or_explain(module: str, needs: str, hint: str) -> Any:
    """`import module`, or a one-line UserError: what `needs` it, the import error, `hint`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UserError(f"{needs} needs the `{module}` package ({exc}); {hint}") from None


def require(modules: Iterable[str], purpose: str) -> None:
    """Raise a one-line UserError naming the extra(s) when any of `modules` is not installed."""
    absent = missing(modules)
    if not absent:
        return
    extras = ",".join(dict.fromkeys(EXTRA_OF.get(name, name) for name in absent))
    raise UserError(f"{purpose} needs {', '.join(absent)}, which is not installed; install "
                    f"the extra: pip install 'uncertainty_seg_node[{extras}]'")
