"""Result files hold no absolute path of the machine that made them: `write_result` keeps paths
relative to the repository (the home directory as `~`), and no committed file holds one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from studies.results import record

REPO = Path(__file__).resolve().parent.parent
RESULTS = sorted((REPO / "docs" / "results").glob("*.json"))
# A word that starts at a root directory where machines keep repositories, data and caches.
_MACHINE_PATH = re.compile(r"(?<![^\s='\"])/(?:home|root|tmp|work|Users|mnt|media|opt|srv|var|"
                           r"data|scratch|workspace|private)/")


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_no_result_file_holds_an_absolute_path(path: Path) -> None:
    data = json.loads(path.read_text())
    found = [s for s in _strings(data) if _MACHINE_PATH.search(s)]
    assert found == [], found[:3]
    assert record.relative_paths(data) == data


def test_paths_become_relative_to_the_repository(tmp_path: Path) -> None:
    root, home = record.ROOT, Path.home()
    command = (f"train --data {root}/runs/d --init={home}/.cache/m.onnx "
               f"--topic /camera/image_raw --out '{tmp_path}/x.pt'")
    relative = record.relative_paths({"c": command, "rows": [f"{root}/models/a.onnx", 1.5]})
    words = relative["c"].split()
    assert words[:6] == ["train", "--data", "runs/d", "--init=~/.cache/m.onnx", "--topic",
                         "/camera/image_raw"]  # a ROS topic is no path of this machine
    out = words[7].strip("'")
    assert not out.startswith("/") and (root / out).resolve() == (tmp_path / "x.pt").resolve()
    assert relative["rows"] == ["models/a.onnx", 1.5]


def test_write_result_records_relative_paths(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "RESULTS_DIR", tmp_path)
    path = record.write_result(
        "x", about="a", dataset="d", allow_dirty=True,
        commands={"c": f"evaluate --model {record.ROOT}/models/default.delta.safetensors"},
        rows={"one": {"label": "one", "command": "c", "checkpoints": [str(tmp_path / "m.pt")],
                      "metrics": {"aupr": 0.9, "model": f"{record.ROOT}/models/m.onnx"}}})
    data = json.loads(path.read_text())
    assert data["commands"]["c"] == "evaluate --model models/default.delta.safetensors"
    assert data["rows"]["one"]["metrics"] == {"aupr": 0.9, "model": "models/m.onnx"}
    assert not data["rows"]["one"]["checkpoints"][0].startswith("/")
