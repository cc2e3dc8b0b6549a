"""The shipping rule: which of f_θ and f_φ the package ships as its default model.

f_φ, the method's model, ships only if its recipe meets the bar on frames it never adapted to:

- on CamVid (camvid_augmented.json), on each fold of each seed in CAMVID_SEEDS, it beats f_θ's
  max-softmax and the control (the same recipe with w_c = 0) on AUPR and MaxF0.5;
- its day/val mIoU is at most MIOU_POINTS below f_θ's (each seed);
- in the synthetic world (synth_augmented.json) it beats both on both figures in at least
  SYNTH_MIN_WINS of the five target domains,
- and is nowhere below f_θ by more than TIE_AUPR AUPR;
- on the real off-road drive (ycor_offroad.json, studies/ycor_offroad.sh: CamVid day to YCOR,
  the paper's setting) the CamVid parts hold again, on each stretch of each seed, with day/val
  mIoU. Until that study has run this part is not measured, and an unmeasured part is not met.

Then it ships unless its AUPR pooled over the demo drive (`overall` of demo.json) is more than
DEMO_TIE_AUPR below f_θ's (a tie goes to f_φ). Otherwise f_θ ships. `ship_verdict` is the rule;
tools/make_default_model.sh (`SHIP=`, from `python -m studies.results ship-verdict --model`) and
the model card's table (`tables_shipping.py`) use it, and the pages link to the model card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studies.results.figures import (
    FOLDS,
    STAGE_NAMES,
    SYNTH_DOMAINS,
    Row,
    diff,
    domain_key,
    figure,
    fmt,
    fold_key,
    row_id,
    set_figure,
)
from studies.results.record import load_result, result_path

METRICS = ("aupr", "maxf05")  # the figures of error detection the bar compares
_NAMES = {"aupr": "AUPR", "maxf05": "MaxF0.5"}
CAMVID_SEEDS = (0, 1)
MIOU_POINTS = 0.02  # day/val mIoU, as a fraction: 2 points
SYNTH_MIN_WINS = 4
TIE_AUPR = 0.01  # "nowhere below f_θ by more than" this, in the synthetic world
DEMO_TIE_AUPR = 0.01
MODELS = {"f_phi": "f_φ", "f_theta": "f_θ"}  # the names make_default_model.sh's SHIP takes


@dataclass(frozen=True)
class FoldComparison:
    """A candidate on one CamVid fold of one seed: (candidate, f_θ, control) per metric."""

    seed: int
    fold: int
    found: dict[str, tuple[float, float, float]]
    miou: tuple[float | None, float | None]  # day/val: the candidate's, f_θ's

    @property
    def beats(self) -> bool:
        """Whether the candidate beats f_θ and the control on every metric."""
        return all(p > max(t, c) for p, t, c in self.found.values())

    def misses(self) -> str:
        """The figures on which it does not, signed, in words."""
        return ", ".join(f"{_NAMES[m]} {diff(p, t)} over f_θ and {diff(p, c)} over the control"
                         for m, (p, t, c) in self.found.items() if not p > max(t, c))


def camvid_folds(rows: dict[str, Row], candidate: str, seed: int) -> list[FoldComparison]:
    """The row CANDIDATE against f_θ and the control of SEED, per fold with all figures."""
    theta = rows.get(row_id("theta", seed=seed))
    control = rows.get(row_id("control", seed=seed))
    model = rows.get(candidate)
    if theta is None or control is None or model is None:
        return []
    miou = (set_figure(model, "day/val", "miou"), set_figure(theta, "day/val", "miou"))
    out = []
    for fold in range(FOLDS):
        found = {m: (figure(model, fold_key(fold), m), figure(theta, fold_key(fold), m),
                     figure(control, fold_key(fold), m)) for m in METRICS}
        complete = {m: (p, t, c) for m, (p, t, c) in found.items()
                    if p is not None and t is not None and c is not None}
        if len(complete) == len(found):
            out.append(FoldComparison(seed, fold, complete, miou))
    return out


@dataclass(frozen=True)
class SynthComparison:
    """A candidate in the synthetic world: the domains it wins, and its worst AUPR gap."""

    wins: tuple[str, ...]
    worst: str
    worst_gap: float  # the candidate's AUPR minus f_θ's there (-inf where a figure is missing)

    @property
    def met(self) -> bool:
        """Whether it meets the synthetic part of the bar."""
        return len(self.wins) >= SYNTH_MIN_WINS and self.worst_gap >= -TIE_AUPR


def synth_domains(phi: Row, theta: Row, control: Row) -> SynthComparison:
    """PHI against THETA and CONTROL on each synthetic domain's unseen frames."""
    def unseen(row: Row, domain: str, metric: str) -> float | None:
        return figure(row, domain_key("unseen", domain), metric)

    def wins(domain: str, metric: str) -> bool:
        p, t, c = (unseen(r, domain, metric) for r in (phi, theta, control))
        return p is not None and t is not None and c is not None and p > max(t, c)

    gaps = {}
    for domain in SYNTH_DOMAINS:
        p, t = unseen(phi, domain, "aupr"), unseen(theta, domain, "aupr")
        gaps[domain] = float("-inf") if p is None or t is None else p - t
    worst = min(gaps, key=lambda d: gaps[d])
    return SynthComparison(tuple(d for d in SYNTH_DOMAINS if all(wins(d, m) for m in METRICS)),
                           worst, gaps[worst])


def demo_aupr(demo: dict[str, Any]) -> dict[str, float]:
    """{f_θ | f_φ: AUPR pooled over the demo drive} of both models a demo.json measured."""
    summary = demo["rows"]["demo"]["metrics"]
    models = [summary, summary.get("compare") or {}]
    return {STAGE_NAMES[str(m["stage"])]: float(m["overall"]["aupr"]) for m in models
            if str(m.get("stage")) in STAGE_NAMES and "aupr" in m.get("overall", {})}


@dataclass(frozen=True)
class Check:
    """One part of the rule: what it asks, what was measured, and whether it holds."""

    name: str
    bar: str
    measured: str
    met: bool | None  # None: not measured


@dataclass(frozen=True)
class Verdict:
    """The rule applied: the parts of the bar, the demo drive's tie-break, the model shipped."""

    bar: tuple[Check, ...]
    demo: Check

    @property
    def bar_met(self) -> bool:
        """Whether f_φ's recipe meets every part of the bar (an unmeasured part does not)."""
        return all(check.met for check in self.bar)

    @property
    def unmeasured(self) -> list[Check]:
        """The parts of the bar not measured yet."""
        return [check for check in self.bar if check.met is None]

    @property
    def ship(self) -> str:
        """The model that ships as the default: f_phi or f_theta."""
        return "f_phi" if self.bar_met and self.demo.met is not False else "f_theta"

    @property
    def failing(self) -> list[Check]:
        """The parts that do not hold (the demo drive's only where the bar is met)."""
        parts = list(self.bar) + ([self.demo] if self.bar_met else [])
        return [check for check in parts if check.met is False]

    def reason(self) -> str:
        """Why the model shipped is the one, in a line."""
        if not self.bar_met:
            parts = [c.name for c in self.failing] + [
                f"{c.name}: not measured" for c in self.unmeasured]
            return "f_φ's recipe misses the bar (" + "; ".join(parts) + ")."
        if self.demo.met is None:
            return "f_φ's recipe meets the bar; the demo drive decides once it measured both."
        return (f"f_φ's recipe meets the bar, and the demo drive "
                f"{'keeps' if self.demo.met else 'does not keep'} f_φ.")


def _camvid_checks(rows: dict[str, Row], where: str = "CamVid") -> tuple[Check, Check]:
    """The fold parts of the bar on a study of camvid_augmented.json's rows (WHERE names it)."""
    seeds = " and ".join(map(str, CAMVID_SEEDS))
    folds, misses, mious, missing = 0, [], [], []
    for seed in CAMVID_SEEDS:
        compared = camvid_folds(rows, row_id("phi", seed=seed), seed)
        if len(compared) < FOLDS:
            missing.append(f"seed {seed}")
        folds += sum(c.beats for c in compared)
        misses += [f"seed {c.seed} fold {c.fold}: {c.misses()}" for c in compared if not c.beats]
        if compared:
            mious.append((seed, *compared[0].miou))
    beats = Check(
        f"{where}, each fold of seeds {seeds}",
        "f_φ above f_θ and the control on unseen AUPR and MaxF0.5",
        f"{folds} of {FOLDS * len(CAMVID_SEEDS)} fold-seed pairs"
        + "".join(f"; {m}" for m in misses) + "".join(f"; no figures for {m}" for m in missing),
        not misses and not missing)
    kept = [p is not None and t is not None and p - t >= -MIOU_POINTS for _, p, t in mious]
    miou = Check(
        f"{where}: CamVid day/val mIoU" if where != "CamVid" else "CamVid day/val mIoU",
        f"f_φ (mean over its fold models) at most {MIOU_POINTS:.2f} below f_θ, each seed",
        "; ".join(f"seed {s}: {diff(p, t)}" for s, p, t in mious) or "no figures",
        len(mious) == len(CAMVID_SEEDS) and all(kept))
    return beats, miou


def _synth_checks(rows: dict[str, Row]) -> tuple[Check, Check]:
    wins_bar = (f"f_φ above f_θ and the control on unseen AUPR and MaxF0.5 in at least "
                f"{SYNTH_MIN_WINS} of {len(SYNTH_DOMAINS)} domains")
    worst_bar = f"f_φ's unseen AUPR at most {TIE_AUPR:.2f} below f_θ's in every domain"
    phi, theta, control = rows.get("phi"), rows.get("theta_maxs"), rows.get("control")
    if phi is None or theta is None or control is None:
        return (Check("Synthetic world, domains won", wins_bar, "no figures", False),
                Check("Synthetic world, worst AUPR", worst_bar, "no figures", False))
    found = synth_domains(phi, theta, control)
    return (Check("Synthetic world, domains won", wins_bar,
                  f"{len(found.wins)} ({', '.join(found.wins) or 'none'})",
                  len(found.wins) >= SYNTH_MIN_WINS),
            Check("Synthetic world, worst AUPR", worst_bar,
                  f"{found.worst_gap:+.3f} ({found.worst})", found.worst_gap >= -TIE_AUPR))


def _demo_check(demo: dict[str, Any] | None) -> Check:
    bar = (f"f_φ's AUPR pooled over the drive at most {DEMO_TIE_AUPR:.2f} below f_θ's "
           "(applied once the bar is met)")
    aupr = demo_aupr(demo) if demo is not None else {}
    if "f_φ" not in aupr or "f_θ" not in aupr:
        return Check("Demo drive", bar, "not measured for both models", None)
    phi, theta = aupr["f_φ"], aupr["f_θ"]
    return Check("Demo drive", bar, f"f_φ {fmt(phi)}, f_θ {fmt(theta)} ({diff(phi, theta)})",
                 phi >= theta - DEMO_TIE_AUPR)


OFFROAD = "Real off-road (YCOR)"


def _offroad_checks(offroad: dict[str, Any] | None) -> tuple[Check, Check]:
    if offroad is not None:
        return _camvid_checks(offroad["rows"], OFFROAD)
    beats, miou = _camvid_checks({}, OFFROAD)
    todo = "not measured (studies/ycor_offroad.sh)"
    return Check(beats.name, beats.bar, todo, None), Check(miou.name, miou.bar, todo, None)


def ship_verdict(camvid: dict[str, Any], synth: dict[str, Any],
                 demo: dict[str, Any] | None, offroad: dict[str, Any] | None = None) -> Verdict:
    """The rule applied to the result records.

    CAMVID is camvid_augmented.json's, SYNTH synth_augmented.json's, DEMO demo.json's (None
    before the demo has run) and OFFROAD ycor_offroad.json's (None before that study has run).
    """
    return Verdict((*_camvid_checks(camvid["rows"]), *_synth_checks(synth["rows"]),
                    *_offroad_checks(offroad)), _demo_check(demo))


SOURCES = ("camvid_augmented", "synth_augmented", "demo")
OPTIONAL_SOURCES = ("ycor_offroad",)  # a part of the bar, not measured until its file exists


def present_sources() -> tuple[str, ...]:
    """The result files the verdict reads that exist in docs/results/."""
    return SOURCES + tuple(n for n in OPTIONAL_SOURCES if result_path(n).is_file())


def current_verdict() -> Verdict:
    """The rule applied to the result files in docs/results/."""
    camvid, synth, demo = (load_result(name) for name in SOURCES)
    offroad = load_result("ycor_offroad") if "ycor_offroad" in present_sources() else None
    return ship_verdict(camvid, synth, demo, offroad)
