"""read_json_object: the file, or an error naming the file and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.jsonfile import read_json_object


def test_reads_an_object(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"a": [1, 2]}')
    assert read_json_object(path, missing="gone", fix="redo") == {"a": [1, 2]}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\udcff"])
def test_bad_content_names_file_and_fix(tmp_path: Path, text: str) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(UserError, match=r"a\.json .*; redo it"):
        read_json_object(path, missing="gone", fix="redo it")


def test_missing_file_raises_the_given_message(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^no such model folder$"):
        read_json_object(tmp_path / "a.json", missing="no such model folder", fix="redo")
