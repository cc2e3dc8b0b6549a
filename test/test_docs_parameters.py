"""docs/parameters.md is the ParamSpec table of ros/params.py, regenerated after every change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from uncertainty_seg_node.paramdoc import REGENERATE, parameters_markdown
from uncertainty_seg_node.ros.params import PARAMETERS

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "parameters.md"


def test_page_matches_the_parameter_table() -> None:
    assert PAGE.is_file(), f"docs/parameters.md is missing; create it with `{REGENERATE}`"
    assert PAGE.read_text() == parameters_markdown(), (
        f"docs/parameters.md is out of date with uncertainty_seg_node/ros/params.py; "
        f"regenerate it with `{REGENERATE}` and commit it")


def test_every_parameter_has_a_row_with_its_default_and_rule() -> None:
    rows = {line.split("|")[1].strip(" `"): line for line in parameters_markdown().splitlines()
            if line.startswith("| `")}
    assert list(rows) == [spec.name for spec in PARAMETERS]
    assert "`auto`, `onnxruntime`, `openvino`, `torch`, `tensorrt`" in rows["backend"]
    assert "| [1, 100] |" in rows["qos_depth"] and "| `5` |" in rows["qos_depth"]
    assert "| yes |" in rows["gamma"] and "| no |" in rows["model_path"]
    assert "&lt;image_topic&gt;/compressed" in rows["image_topic"]  # not swallowed as HTML


def test_a_changed_parameter_changes_the_page() -> None:
    """The comparison above can fail: a new default or a new parameter shows in the text."""
    changed = tuple(dataclasses.replace(s, default=7) if s.name == "qos_depth" else s
                    for s in PARAMETERS)
    added = PARAMETERS + (dataclasses.replace(PARAMETERS[0], name="new_parameter"),)
    assert parameters_markdown(changed) != parameters_markdown()
    assert "| `qos_depth` | integer | `7` |" in parameters_markdown(changed)
    assert "`new_parameter`" in parameters_markdown(added)


def test_readme_links_the_page_beside_the_topics() -> None:
    readme = (REPO / "README.md").read_text()
    topics = readme.index("### Topics")
    assert "(docs/parameters.md)" in readme[topics:topics + 4000]
