"""Reading a JSON object file that a user or a tool wrote, with errors that say what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from uncertainty_seg_node.errors import UserError


def read_json_object(path: Path, *, missing: str, fix: str) -> dict[str, Any]:
    """The JSON object in `path`.

    A missing file raises `missing` as it is; a file that is not a JSON object raises a message
    naming the file and the parse error, followed by `fix` (what to do about it).
    """
    if not path.is_file():
        raise UserError(missing)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); {fix}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} does not hold a JSON object; {fix}")
    return data
