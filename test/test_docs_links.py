"""README.md, studies/README.md, the model card and docs/*.md point only inside the repository,
and only at files that exist.

Checked: every relative Markdown link target; every `../`-relative path anywhere in the text
(prose, code spans and blocks); every code-span path under a top-level folder of the repository
(`config/params.yaml`, `uncertainty_seg_node/ros/params.py`, ...).
A user has only the clone: a path into `../shared` or to a file that was renamed is a dead end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", REPO / "studies" / "README.md",
               REPO / "models" / "MODEL_CARD.md", *(REPO / "docs").rglob("*.md")])
_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_PARENT = re.compile(r"(?<![\w./$~-])((?:\.\./)+[\w.\-/]*)")
_SPAN = re.compile(r"`([^`\n]+)`")
_TOP = ("uncertainty_seg_node", "config", "docs", "tools", "studies", "test", "launch", "models",
        "resource")
_EXTERNAL = ("http://", "https://", "mailto:", "#")


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file, and its explicit `<a id="...">` anchors."""
    text = markdown.read_text()
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, re.MULTILINE)
    return ({re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}
            | set(re.findall(r'<a id="([^"]+)"></a>', text)))


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO)


def problems(doc: Path, text: str | None = None) -> list[str]:
    """Every reference of `doc` (or of `text` as if it were at `doc`) that leaves the
    repository or names a missing file."""
    text = doc.read_text() if text is None else text
    found: list[str] = []

    def check(ref: str, base: Path, what: str) -> None:
        target = (base / ref.split("#")[0]).resolve()
        if not _inside(target):
            found.append(f"{what} {ref!r} points outside the repository")
        elif not target.exists():
            found.append(f"{what} {ref!r} names a missing file ({target.relative_to(REPO)})")
        elif "#" in ref and target.suffix == ".md" and ref.split("#")[1] not in _anchors(target):
            found.append(f"{what} {ref!r}: no heading {ref.split('#')[1]!r} in {target.name}")

    for ref in _LINK.findall(text):
        if not ref.startswith(_EXTERNAL):
            check(ref, doc.parent, "link")
    for ref in _PARENT.findall(text):
        check(ref.rstrip("."), doc.parent, "path")
    for span in _SPAN.findall(text):
        for word in span.split():
            word = word.rstrip(".,;:)")
            if "/" in word and word.split("/")[0] in _TOP and not any(c in word for c in "$*<{"):
                check(word, REPO, "path")
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_references_stay_inside_and_exist(doc: Path) -> None:
    assert not problems(doc), "\n".join(problems(doc))


def test_the_checker_catches_what_it_should() -> None:
    text = ("[m](../../shared/METHOD.md) and `../../shared/seeds/` and [ok](tutorial.md)\n"
            "`config/nope.yaml` and [gone](gone.md#x) and `config/params.yaml`\n"
            "[web](https://example.org) [top](#top) [readme](../README.md#topics)\n"
            "[bad anchor](../README.md#no-such-heading)\n")
    found = problems(REPO / "docs" / "probe.md", text)
    assert sorted(found) == sorted([
        "link '../../shared/METHOD.md' points outside the repository",
        "path '../../shared/METHOD.md' points outside the repository",
        "path '../../shared/seeds/' points outside the repository",
        "path 'config/nope.yaml' names a missing file (config/nope.yaml)",
        "link 'gone.md#x' names a missing file (docs/gone.md)",
        "link '../README.md#no-such-heading': no heading 'no-such-heading' in README.md",
    ]), found
