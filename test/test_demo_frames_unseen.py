"""The demo drive shows scenes neither shipped model trained on.

The shipped models were trained by tools/make_default_model.sh on folders of independent scenes
(`synth --out`, `render_frames`): frame i of a set shows the world of `scene_seed(domain, seed,
i)`. The demo renders one coherent drive (`render_drive`), every frame of which shows the world
of the demo's own seed. So the demo's frames are unseen exactly when that seed is none of the
training frames' scene seeds, and the shipped models' provenance names those folders, not a drive.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from studies.results.figures import SYNTH_DOMAINS
from uncertainty_seg_node.export.delta import read_delta
from uncertainty_seg_node.ros_drivers.demo_drive import DemoOptions
from uncertainty_seg_node.synth.drive import scene_seed

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "make_default_model.sh"
MODELS = [REPO / "models" / f"{name}.delta.safetensors" for name in ("default", "compare")]
COUNT = 400  # make_default_model.sh's default COUNT: source 400, val 40, 80 per target domain


def _training_sets() -> list[tuple[str, int, int]]:
    """(domain, count, seed) of every `synth` set make_default_model.sh renders."""
    text = SCRIPT.read_text()
    sets = []
    source = re.findall(r'synth --domain city-day --count "\$COUNT".*?--seed (\d+)', text, re.S)
    val = re.findall(r"synth --domain city-day --count \$\(\(COUNT / 10\)\).*?--seed (\d+)",
                     text, re.S)
    targets = re.search(r'for i in "\$\{!DOMAINS\[@\]\}"; do', text)
    base = re.search(r"--seed \$\(\((\d+) \+ i\)\)", text)
    assert source and val and targets and base, "make_default_model.sh's synth lines changed"
    sets.append(("city-day", COUNT, int(source[0])))
    sets.append(("city-day", COUNT // 10, int(val[0])))
    for i, dom in enumerate(SYNTH_DOMAINS):  # the order the script reads from the same tuple
        sets.append((dom, COUNT // 5, int(base.group(1)) + i))
    assert "--sequence" not in text, "the training sets are independent scenes, not drives"
    return sets


def test_shipped_models_trained_on_the_scene_folders_not_on_a_drive() -> None:
    for path in MODELS:
        provenance = read_delta(path).config.provenance
        runs = [provenance, provenance.get("teacher_provenance") or {}]
        for run in runs:
            for key in ("data", "unlabelled"):
                value = run.get(key)
                if value:
                    assert "/data/source" in value or "/data/unlabelled" in value, (path, value)
                    assert "sample_drive" not in value and "bag" not in value, (path, value)


def test_the_demo_drive_world_is_no_training_scene() -> None:
    sets = _training_sets()
    assert [s[0] for s in sets[2:]] == ["rural", "night", "fog", "snow", "offroad"]
    seeds = {scene_seed(dom, seed, i) for dom, count, seed in sets for i in range(count)}
    assert len(seeds) == sum(count for _, count, _ in sets), "training scenes repeat"
    demo_seed = DemoOptions.__dataclass_fields__["seed"].default
    assert demo_seed not in seeds
    assert demo_seed not in {seed for _, _, seed in sets}, "a demo seed equal to a set's seed"


def test_scene_seed_is_what_render_frames_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    from uncertainty_seg_node.synth.drive import _Drive, render_frames

    drawn: list[int] = []
    original = _Drive.__init__

    def spy(self: _Drive, seed: int, domain_at: object) -> None:
        drawn.append(seed)
        original(self, seed, domain_at)

    monkeypatch.setattr(_Drive, "__init__", spy)
    list(render_frames("fog", 2, (28, 42), seed=5, start=3))
    assert drawn == [scene_seed("fog", 5, 3), scene_seed("fog", 5, 4)]
