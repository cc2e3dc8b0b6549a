"""The shape of a result file's rows: the one place that reads a figure out of a row.

A row (`schema.py`) keys its figures by frame set, and its id says which run it is. Both follow
one grammar, composed and parsed only here:

    row id    VARIANT[_DOMAIN][_N][_f<FOLD>][_s<SEED>][_DETAIL]
              theta_s0, phi_f1_s0 (a training run), phi_fog_100, theta_s0_maxlogit, theta_maxs
    set key   fold<FOLD>/unseen, fold<FOLD>/seen       a CamVid fold's frames
              <PART>/<DOMAIN>[-<N>]                    a synthetic domain's frames: PART unseen
                                                       (`test` in synth_scaling.json) or seen
              <SET>[@fold<FOLD>]                       a plain set (day/val); @fold<FOLD> for a
                                                       model adapted per fold

Here too: the synthetic domains and their seeds, the training stages' names, and the cells every
table shares (a number, an AUPR / MaxF0.5 pair, a gain), with one marker for a missing figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
Figures = dict[str, Any]  # one frame set's figures: {"aupr": ..., "maxf05": ..., "miou": ...}

# The synthetic world's five target domains, in the order of the default model's unlabelled
# corpus (tools/make_default_model.sh renders domain i with seed 200 + i) and of the tables.
SYNTH_DOMAINS = ("rural", "night", "fog", "snow", "offroad")
# Each domain's offset in the seeds of every other synthetic set: the unseen test frames
# (400 + offset), the N-curves' pools (300 +) and paper_scale.sh's corpus (500 +).
SEED_OFFSETS = {"rural": 0, "fog": 1, "night": 2, "snow": 3, "offroad": 4}
# A model is named by the training stage its run recorded, whichever file ships as the default.
STAGE_NAMES = {"uncertainty": "f_φ", "task": "f_θ"}
FOLDS = 2  # the CamVid temporal folds of every fold study
MISSING = "—"
_UNSEEN_PARTS = ("unseen", "test")

_ROW_ID = re.compile(
    rf"^(?P<variant>[a-z0-9]+)(?:_(?P<domain>{'|'.join(SYNTH_DOMAINS)}))?(?:_(?P<n>\d+))?"
    r"(?:_f(?P<fold>\d+))?(?:_s(?P<seed>\d+))?(?:_(?P<detail>\w+))?$")
_FOLD_KEY = re.compile(r"^fold(\d+)/(\w+)$")


@dataclass(frozen=True)
class Fields:
    """What a row id or a set key says, as fields instead of text to parse.

    NAME is a row's variant (theta, control, phi, ensemble3, ...) or a set's part (unseen, seen)
    or plain name (day/val); SEED and DETAIL (theta_s0_maxlogit's maxlogit) are row ids' only.
    """

    name: str
    domain: str | None = None
    n: int | None = None
    fold: int | None = None
    seed: int | None = None
    detail: str | None = None


def row_id(variant: str, *, domain: str | None = None, n: int | None = None,
           fold: int | None = None, seed: int | None = None) -> str:
    """The id of the row (or training run) of VARIANT at DOMAIN, N, FOLD and SEED."""
    parts = [variant, domain, None if n is None else str(n),
             None if fold is None else f"f{fold}", None if seed is None else f"s{seed}"]
    return "_".join(p for p in parts if p is not None)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def parse_row_id(text: str) -> Fields:
    """The fields of the row id TEXT (an id outside the grammar is all name)."""
    match = _ROW_ID.match(text)
    if match is None:
        return Fields(text)
    g = match.groupdict()
    return Fields(g["variant"], g["domain"], _int(g["n"]), _int(g["fold"]), _int(g["seed"]),
                  g["detail"])


def fold_key(fold: int, part: str = "unseen") -> str:
    """The key of a CamVid fold's unseen (or seen) frames."""
    return f"fold{fold}/{part}"


def domain_key(part: str, domain: str, n: int | None = None) -> str:
    """The key of a synthetic domain's unseen (or seen) frames; N for an N-curve's seen set."""
    return f"{part}/{domain}" if n is None else f"{part}/{domain}-{n}"


def parse_set_key(key: str) -> Fields:
    """The fields of the set key KEY."""
    match = _FOLD_KEY.match(key)
    if match:
        return Fields(match.group(2), fold=int(match.group(1)))
    name, at, fold = key.partition("@fold")
    head, _, tail = name.partition("/")
    if head in (*_UNSEEN_PARTS, "seen") and tail:
        domain, _, n = tail.partition("-")
        return Fields("unseen" if head in _UNSEEN_PARTS else "seen", domain, _int(n or None))
    return Fields(name, fold=_int(fold if at else None))


def figures(row: Row | None, key: str) -> Figures | None:
    """ROW's figures on the set KEY (None when the row or the set is missing)."""
    return None if row is None else row["metrics"].get(key)


def figure(row: Row | None, key: str, metric: str) -> float | None:
    """One figure of ROW on the set KEY."""
    found = figures(row, key)
    value = None if found is None else found.get(metric)
    return None if value is None else float(value)


def set_figure(row: Row, name: str, metric: str, folds: int = FOLDS) -> float | None:
    """A plain set's figure; for a model adapted per fold, the mean over the fold models."""
    if name in row["metrics"]:
        return figure(row, name, metric)
    return _mean([figure(row, f"{name}@fold{i}", metric) for i in range(folds)])


def fold_mean(row: Row, part: str, metric: str, folds: int = FOLDS) -> float | None:
    """The mean over the folds of ROW's figure on each fold's PART (unseen or seen) frames."""
    return _mean([figure(row, fold_key(i, part), metric) for i in range(folds)])


def domain_mean(row: Row, part: str, metric: str) -> float | None:
    """The mean over the synthetic domains of ROW's figure on each domain's PART frames."""
    return _mean([figure(row, domain_key(part, d), metric) for d in SYNTH_DOMAINS])


def passes(row: Row) -> int:
    """How many network passes a frame takes the row's method (Ensemble-3: 3)."""
    return int(next(iter(row["metrics"].values())).get("passes", 1))


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present and len(present) == len(values) else None


def shell_domains() -> str:
    """SYNTH_DOMAINS and SEED_OFFSETS as bash (`eval "$(python -m studies.results domains)"`)."""
    offsets = " ".join(f"[{d}]={o}" for d, o in SEED_OFFSETS.items())
    return (f"DOMAINS=({' '.join(SYNTH_DOMAINS)})\n"
            f"declare -gA SEED_OFFSET=({offsets})\n")


ScalingRuns = dict[tuple[str, int], dict[str, Figures]]


def scaling_runs(rows: dict[str, Row]) -> tuple[ScalingRuns, dict[str, Figures]]:
    """{(domain, N): {'f_φ unseen' | 'control seen' | ...: figures}}, {domain: f_θ figures}.

    The rows of an N-curve (synth_scaling.json): one control and one f_φ per domain and N, and
    their teacher f_θ (`theta_maxs`) on each domain's unseen frames.
    """
    names = {"control": "control", "phi": "f_φ"}
    runs: ScalingRuns = {}
    for text, row in rows.items():
        rid = parse_row_id(text)
        if rid.name not in names or rid.domain is None or rid.n is None:
            continue
        for key, found in row["metrics"].items():
            part = parse_set_key(key).name
            runs.setdefault((rid.domain, rid.n), {})[f"{names[rid.name]} {part}"] = found
    theta = {key.domain: found
             for key, found in ((parse_set_key(k), f)
                                for k, f in rows.get("theta_maxs", {"metrics": {}})[
                                    "metrics"].items())
             if key.name == "unseen" and key.domain is not None}
    return runs, theta


def fmt(value: Any, digits: int = 3) -> str:
    """VALUE with DIGITS decimals, or the missing marker."""
    return MISSING if value is None else f"{value:.{digits}f}"


def minutes(seconds: float | None) -> str:
    """SECONDS in minutes, one decimal."""
    return MISSING if seconds is None else f"{seconds / 60:.1f}"


def diff(a: float | None, b: float | None) -> str:
    """A minus B, signed."""
    return MISSING if a is None or b is None else f"{a - b:+.3f}"


def pair(found: Figures | None) -> str:
    """AUPR / MaxF0.5 of one set's figures."""
    return MISSING if found is None else f"{fmt(found['aupr'])} / {fmt(found['maxf05'])}"


def gain(a: Figures | None, b: Figures | None) -> str:
    """AUPR / MaxF0.5 of A minus B, signed."""
    if a is None or b is None:
        return MISSING
    return f"{a['aupr'] - b['aupr']:+.3f} / {a['maxf05'] - b['maxf05']:+.3f}"
