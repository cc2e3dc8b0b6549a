"""Tables of the synthetic world: per target domain, against N, one joint model vs per domain.

Result files: synth_domains.json (studies/synth_domains.sh: rows `theta_maxs`, `control`, `phi`,
`ensemble3`, metrics keyed `seen/<domain>` and `unseen/<domain>`) and synth_scaling.json
(studies/synth_scaling.sh: rows `<control|phi>_<domain>_<N>` with metrics keyed
`test/<domain>` (unseen) and `seen/<domain>-<N>`, and `theta_maxs`, the teacher, on
`test/<domain>`).
"""

from __future__ import annotations

import re
from typing import Any

from studies.results.record import load_result
from studies.results.render import fmt, renderer, source_line

SYNTH_DOMAINS = ("rural", "night", "fog", "snow", "offroad")
_SCALING_ROW = re.compile(r"^(control|phi)_(\w+)_(\d+)$")
_VARIANT_NAMES = {"control": "control", "phi": "f_φ"}


@renderer("synth_domains")
def synth_domains() -> str:
    """Per synthetic target domain: unseen frames first, the adapted (seen) frames beside."""
    rows = load_result("synth_domains")["rows"]

    def get(row: dict[str, Any], part: str, domain: str, metric: str) -> float | None:
        r = row["metrics"].get(f"{part}/{domain}")
        return None if r is None else r.get(metric)

    def mean(row: dict[str, Any], part: str, metric: str) -> float | None:
        values = [get(row, part, d, metric) for d in SYNTH_DOMAINS]
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if len(present) == len(values) else None

    head = ("| method | passes | "
            + " | ".join(f"{d} unseen AUPR / MaxF0.5" for d in SYNTH_DOMAINS)
            + " | **unseen mean AUPR** | **unseen mean MaxF0.5** | seen mean AUPR / MaxF0.5 | "
            "unseen mean mIoU |")
    out = [head, "|---|---|" + "---|" * (len(SYNTH_DOMAINS) + 4)]
    for row in rows.values():
        first = next(iter(row["metrics"].values()))
        cells = [f"{fmt(get(row, 'unseen', d, 'aupr'))} / "
                 f"{fmt(get(row, 'unseen', d, 'maxf05'))}" for d in SYNTH_DOMAINS]
        out.append(f"| {row['label']} | {first.get('passes', 1)} | " + " | ".join(cells)
                   + f" | {fmt(mean(row, 'unseen', 'aupr'))} | "
                   f"{fmt(mean(row, 'unseen', 'maxf05'))} | {fmt(mean(row, 'seen', 'aupr'))} / "
                   f"{fmt(mean(row, 'seen', 'maxf05'))} | {fmt(mean(row, 'unseen', 'miou'))} |")
    phi = rows.get("phi")
    rivals = [rows[k] for k in ("theta_maxs", "control") if k in rows]
    if phi and rivals:
        wins = [d for d in SYNTH_DOMAINS if all(
            (get(phi, "unseen", d, m) or 0.0) > (get(r, "unseen", d, m) or 1.0)
            for r in rivals for m in ("aupr", "maxf05"))]
        out += ["", f"On unseen frames, {phi['label']} beats "
                f"{' and '.join(r['label'] for r in rivals)} on both AUPR and "
                f"MaxF0.5 in {len(wins)} of {len(SYNTH_DOMAINS)} domains: "
                f"{', '.join(wins) or 'none'}."]
    return "\n".join(out) + "\n\n" + source_line("synth_domains")


def scaling_runs(rows: dict[str, dict[str, Any]]) -> tuple[
        dict[tuple[str, int], dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """{(domain, N): {'f_φ unseen' | 'control seen' | ...: figures}}, {domain: f_θ figures}."""
    runs: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for row_id, row in rows.items():
        match = _SCALING_ROW.match(row_id)
        if not match:
            continue
        variant, domain, n = _VARIANT_NAMES[match.group(1)], match.group(2), int(match.group(3))
        for data, figures in row["metrics"].items():
            part = "unseen" if data.startswith("test/") else "seen"
            runs.setdefault((domain, n), {})[f"{variant} {part}"] = figures
    theta = {data.split("/", 1)[1]: figures
             for data, figures in rows.get("theta_maxs", {"metrics": {}})["metrics"].items()
             if data.startswith("test/")}
    return runs, theta


def _pair(r: dict[str, Any] | None) -> str:
    """AUPR / MaxF0.5 of one row's figures ("n/a" when the row is missing)."""
    return "n/a" if r is None else f"{fmt(r['aupr'])} / {fmt(r['maxf05'])}"


def _gain(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    """AUPR / MaxF0.5 of A minus B, signed ("n/a" when either is missing)."""
    if a is None or b is None:
        return "n/a"
    return f"{a['aupr'] - b['aupr']:+.3f} / {a['maxf05'] - b['maxf05']:+.3f}"


@renderer("synth_scaling")
def synth_scaling() -> str:
    """Unseen-frame gain of f_φ over the control and f_θ against N unlabelled frames."""
    runs, thetas = scaling_runs(load_result("synth_scaling")["rows"])
    out = ["| domain | N unlabelled frames | f_θ unseen AUPR / MaxF0.5 | control unseen | "
           "f_φ unseen | **f_φ − control** AUPR / MaxF0.5 | f_φ − f_θ AUPR / MaxF0.5 | "
           "f_φ seen |", "|---|---|---|---|---|---|---|---|"]
    for (domain, n), r in sorted(runs.items()):
        theta = thetas.get(domain)
        phi, control = r.get("f_φ unseen"), r.get("control unseen")
        out.append(f"| {domain} | {n} | {_pair(theta)} | {_pair(control)} | {_pair(phi)} | "
                   f"{_gain(phi, control)} | {_gain(phi, theta)} | {_pair(r.get('f_φ seen'))} |")
    return "\n".join(out) + "\n\n" + source_line("synth_scaling")


@renderer("synth_joint")
def synth_joint() -> str:
    """One model per target domain (synth_scaling) against the one joint model (synth_domains).

    Both are the default recipe with the shipped f_θ as teacher, measured on the same 40 unseen
    frames a domain; each f_φ is set against the control of its own corpus.
    """
    runs, thetas = scaling_runs(load_result("synth_scaling")["rows"])
    joint = load_result("synth_domains")["rows"]
    phi, control = joint["phi"]["metrics"], joint["control"]["metrics"]
    out = ["| domain | f_φ | unlabelled frames (this domain / all) | f_θ unseen AUPR / MaxF0.5 | "
           "control unseen | f_φ unseen | **f_φ − control** AUPR / MaxF0.5 | "
           "f_φ − f_θ AUPR / MaxF0.5 |", "|---|---|---|---|---|---|---|---|"]

    def row(domain: str, kind: str, frames: str, theta: dict[str, Any],
            control: dict[str, Any], phi: dict[str, Any]) -> str:
        return (f"| {domain} | {kind} | {frames} | {_pair(theta)} | {_pair(control)} | "
                f"{_pair(phi)} | {_gain(phi, control)} | {_gain(phi, theta)} |")

    per_domain = phi[f"seen/{SYNTH_DOMAINS[0]}"]["frames"]
    for domain in sorted({d for d, _ in runs}):
        theta = thetas[domain]
        out.append(row(domain, "joint (shipped)",
                       f"{per_domain} / {per_domain * len(SYNTH_DOMAINS)}", theta,
                       control[f"unseen/{domain}"], phi[f"unseen/{domain}"]))
        out += [row(domain, "this domain only", f"{n} / {n}", theta, r["control unseen"],
                    r["f_φ unseen"])
                for (d, n), r in sorted(runs.items())
                if d == domain and "f_φ unseen" in r and "control unseen" in r]
    return "\n".join(out) + "\n\n" + source_line("synth_domains", "synth_scaling")
