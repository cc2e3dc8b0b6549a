"""The procedural world: determinism, class coverage, unknown objects, real domain shifts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.synth import (
    SOURCE_DOMAIN,
    domain_names,
    get_domain,
    parse_domains,
    render_drive,
    render_frames,
)
from uncertainty_seg_node.synth.domains import load_domains

SIZE = (56, 112)


def _frames(domain: str, n: int, seed: int = 0, size: tuple[int, int] = SIZE) -> list:
    return list(render_frames(domain, n, size, seed))


def test_domains_source_first_and_at_least_five_targets() -> None:
    names = domain_names()
    assert names[0] == SOURCE_DOMAIN == "city-day"
    assert {"rural", "night", "fog", "snow", "offroad"} <= set(names[1:])
    assert [d.name for d in parse_domains("city-day, fog,night")] == ["city-day", "fog", "night"]
    with pytest.raises(UserError, match="unknown domain 'mars'.*city-day"):
        get_domain("mars")


def test_deterministic_by_seed() -> None:
    a, b = _frames("fog", 2, seed=3), _frames("fog", 2, seed=3)
    c = _frames("fog", 2, seed=4)
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.labels, y.labels)
        assert np.array_equal(x.anomaly, y.anomaly)
    assert not np.array_equal(a[0].image, c[0].image)
    # a frame depends neither on how the set is cut into pieces nor on what was drawn before
    # (shared sprite caches), so sets can be rendered in pieces or in parallel
    from uncertainty_seg_node.synth import render

    render._SPRITES.clear()
    piece = list(render_frames("fog", 1, SIZE, 3, start=1))[0]
    assert np.array_equal(piece.image, a[1].image)
    assert np.array_equal(piece.labels, a[1].labels)


def test_frame_format() -> None:
    frame = _frames("night", 1)[0]
    assert frame.image.shape == (*SIZE, 3) and frame.image.dtype == np.uint8
    assert frame.labels.shape == SIZE and frame.labels.dtype == np.uint8
    assert set(np.unique(frame.labels)) <= set(range(19)) | {255}
    assert frame.domain == "night"


def test_most_classes_appear() -> None:
    present: set[int] = set()
    for frame in _frames(SOURCE_DOMAIN, 8, seed=0, size=(112, 224)):
        present |= set(np.unique(frame.labels).tolist())
    assert len(present - {255}) >= 16, sorted(present)


def test_anomaly_mask_is_exactly_the_unknown_objects() -> None:
    frames = _frames("rural", 6, seed=1)
    assert any(f.anomaly.any() for f in frames), "no unknown object in 6 rural frames"
    for f in frames:
        assert set(np.unique(f.anomaly)) <= {0, 255}
        assert np.array_equal(f.anomaly == 255, f.labels == 255)


def test_unknown_objects_are_rare_in_the_source() -> None:
    def share(domain: str) -> float:
        frames = _frames(domain, 24, seed=2, size=(32, 64))
        return float(np.mean([f.anomaly.any() for f in frames]))

    assert share(SOURCE_DOMAIN) <= 0.15 < 0.3 <= share("offroad")


def test_colour_alone_does_not_tell_the_classes_apart() -> None:
    """Even the best per-colour lookup, fitted on the very pixels it scores, confuses classes."""
    frames = _frames(SOURCE_DOMAIN, 6, seed=5, size=(112, 224))
    rgb = np.concatenate([f.image.reshape(-1, 3) for f in frames]).astype(np.int64) // 16
    lab = np.concatenate([f.labels.reshape(-1) for f in frames]).astype(np.int64)
    keep = lab < 255
    bins, lab = (rgb[:, 0] * 256 + rgb[:, 1] * 16 + rgb[:, 2])[keep], lab[keep]
    counts = np.zeros((4096, 19))
    np.add.at(counts, (bins, lab), 1)
    pred = counts.argmax(axis=1)[bins]
    per_class = [float((pred[lab == k] == k).mean()) for k in np.unique(lab)]
    assert np.mean(per_class) < 0.6, per_class


def _stats(domain: str) -> dict[str, float]:
    frames = _frames(domain, 4, seed=7, size=(64, 128))
    img = np.stack([f.image for f in frames]).astype(np.float32) / 255
    lab = np.stack([f.labels for f in frames])
    verge = (lab == 1) | (lab == 9)  # sidewalks and terrain: where snow lies
    return {
        "brightness": float(img.mean()),
        "contrast": float(np.mean([f.image.std() for f in frames]) / 255),
        "saturation": float((img.max(-1) - img.min(-1)).mean()),
        "warmth": float((img[..., 0] - img[..., 2]).mean()),
        "verge_white": float(img[verge].min(-1).mean()),
        "road_warmth": float((img[lab == 0][:, 0] - img[lab == 0][:, 2]).mean()),
        "green_share": float(np.isin(lab, (8, 9)).mean()),
    }


def test_targets_differ_measurably_from_the_source() -> None:
    src = _stats(SOURCE_DOMAIN)
    night, fog, snow = _stats("night"), _stats("fog"), _stats("snow")
    rural, offroad = _stats("rural"), _stats("offroad")
    assert night["brightness"] < 0.6 * src["brightness"]
    assert fog["contrast"] < 0.75 * src["contrast"] and fog["saturation"] < 0.6 * src["saturation"]
    assert snow["verge_white"] > src["verge_white"] + 0.15
    assert rural["warmth"] > src["warmth"] + 0.08
    assert offroad["road_warmth"] > src["road_warmth"] + 0.08
    assert offroad["green_share"] > src["green_share"] + 0.3


def test_drive_is_coherent_and_records_its_domains() -> None:
    drive = list(render_drive(["city-day", "fog", "night"], 6, SIZE, seed=2, rate=10.0))
    assert [f.domain for f in drive] == ["city-day"] * 2 + ["fog"] * 2 + ["night"] * 2
    assert [f.time_s for f in drive] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    day = list(render_drive("city-day", 4, (64, 128), seed=2))
    scenes = _frames(SOURCE_DOMAIN, 4, seed=2, size=(64, 128))
    step = np.mean([(a.labels == b.labels).mean() for a, b in zip(day, day[1:])])
    jump = np.mean([(a.labels == b.labels).mean() for a, b in zip(scenes, scenes[1:])])
    assert step > 0.8 and step > jump + 0.1, (step, jump)
    # a change of layout cuts to a road of that layout: no city left in the forest
    mixed = list(render_drive(["city-day", "offroad"], 4, SIZE, seed=3))
    assert all((f.labels == 2).any() for f in mixed[:2])
    assert not any(np.isin(f.labels, (1, 2)).any() for f in mixed[2:])


def test_bad_input() -> None:
    with pytest.raises(UserError, match="--count"):
        _frames(SOURCE_DOMAIN, 0)
    with pytest.raises(UserError, match="too small"):
        list(render_frames(SOURCE_DOMAIN, 1, (8, 8), 0))
    with pytest.raises(UserError, match="--rate"):
        list(render_drive(SOURCE_DOMAIN, 2, SIZE, 0, rate=0))


def test_domains_file_errors_name_the_domain(tmp_path: Path) -> None:
    path = tmp_path / "domains.yaml"
    good = ("description: d\nlayout: city\nsky_top: [0.1, 0.2, 0.3]\n"
            "sky_horizon: [0.1, 0.2, 0.3]\nhaze: [0.1, 0.2, 0.3]\nvisibility_m: 100.0\n")
    path.write_text("mine:\n" + "".join("  " + line + "\n" for line in good.splitlines()))
    (mine,) = load_domains(path).values()
    assert mine.name == "mine" and mine.sky_top == (0.1, 0.2, 0.3) and mine.sun == 1.0
    path.write_text("mine:\n  layout: city\n  sparkle: 3\n")
    with pytest.raises(UserError, match=r"unknown field of domain 'mine'.*\['sparkle'\]"):
        load_domains(path)
    path.write_text("mine:\n  layout: city\n")
    with pytest.raises(UserError, match="domain 'mine'.*missing"):
        load_domains(path)
    for text in ("[1, 2]", "mine: 3", "{{"):
        path.write_text(text)
        with pytest.raises(UserError, match="domain"):
            load_domains(path)
