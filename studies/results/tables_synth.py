"""Tables of the synthetic world: per target domain, against N, one joint model vs per domain.

Result files: synth_domains.json (studies/synth_domains.sh: rows `theta_maxs`, `control`, `phi`,
`ensemble3`), synth_scaling.json (studies/synth_scaling.sh: rows `<control|phi>_<domain>_<N>`
and their teacher `theta_maxs`), synth_augmented.json (studies/synth_augmented.sh: the default
model's run, `theta_maxs`, `control`, `phi`, `guard`, and the N-curve `phi_<domain>_<N>`).
Their sets are those of `figures.py`; the off-road per-class tables are in tables_offroad.py.
"""

from __future__ import annotations

from studies.results.figures import (
    SYNTH_DOMAINS,
    Figures,
    Row,
    domain_key,
    domain_mean,
    figure,
    figures,
    fmt,
    gain,
    minutes,
    pair,
    parse_row_id,
    passes,
    row_id,
    scaling_runs,
)
from studies.results.record import load_result
from studies.results.render import renderer, source_line, table_row
from studies.results.shipping import synth_domains as synth_bar


def _domain_cells(row: Row) -> list[str]:
    return [pair(figures(row, domain_key("unseen", d))) for d in SYNTH_DOMAINS]


def _means(row: Row, part: str) -> str:
    return f"{fmt(domain_mean(row, part, 'aupr'))} / {fmt(domain_mean(row, part, 'maxf05'))}"


@renderer("synth_domains")
def synth_domains() -> str:
    """Per synthetic target domain: unseen frames first, the adapted (seen) frames beside."""
    rows = load_result("synth_domains")["rows"]
    head = ("| method | passes | "
            + " | ".join(f"{d} unseen AUPR / MaxF0.5" for d in SYNTH_DOMAINS)
            + " | **unseen mean AUPR** | **unseen mean MaxF0.5** | seen mean AUPR / MaxF0.5 | "
            "unseen mean mIoU |")
    out = [head, "|---|---|" + "---|" * (len(SYNTH_DOMAINS) + 4)]
    for row in rows.values():
        out.append(table_row(row["label"], passes(row), *_domain_cells(row),
                             fmt(domain_mean(row, "unseen", "aupr")),
                             fmt(domain_mean(row, "unseen", "maxf05")), _means(row, "seen"),
                             fmt(domain_mean(row, "unseen", "miou"))))
    phi = rows.get("phi")
    rivals = [rows[k] for k in ("theta_maxs", "control") if k in rows]
    if phi and rivals:
        def wins(domain: str, metric: str) -> bool:
            p = figure(phi, domain_key("unseen", domain), metric)
            others = [figure(r, domain_key("unseen", domain), metric) for r in rivals]
            return p is not None and all(o is not None and p > o for o in others)

        won = [d for d in SYNTH_DOMAINS if wins(d, "aupr") and wins(d, "maxf05")]
        out += ["", f"On unseen frames, {phi['label']} beats "
                f"{' and '.join(r['label'] for r in rivals)} on both AUPR and "
                f"MaxF0.5 in {len(won)} of {len(SYNTH_DOMAINS)} domains: "
                f"{', '.join(won) or 'none'}."]
    return "\n".join(out) + "\n\n" + source_line("synth_domains")


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
        out.append(table_row(domain, n, pair(theta), pair(control), pair(phi),
                             gain(phi, control), gain(phi, theta), pair(r.get("f_φ seen"))))
    return "\n".join(out) + "\n\n" + source_line("synth_scaling")


@renderer("synth_joint")
def synth_joint() -> str:
    """One model per target domain (synth_scaling) against the one joint model (synth_domains).

    Both are the un-augmented recipe with the same f_θ as teacher, measured on the same 40
    unseen frames a domain; each f_φ is set against the control of its own corpus.
    """
    runs, thetas = scaling_runs(load_result("synth_scaling")["rows"])
    joint = load_result("synth_domains")["rows"]
    phi, control = joint["phi"], joint["control"]
    out = ["| domain | f_φ | unlabelled frames (this domain / all) | f_θ unseen AUPR / MaxF0.5 | "
           "control unseen | f_φ unseen | **f_φ − control** AUPR / MaxF0.5 | "
           "f_φ − f_θ AUPR / MaxF0.5 |", "|---|---|---|---|---|---|---|---|"]

    def line(domain: str, kind: str, frames: str, theta: Figures | None,
             control: Figures | None, phi: Figures | None) -> str:
        return table_row(domain, kind, frames, pair(theta), pair(control), pair(phi),
                         gain(phi, control), gain(phi, theta))

    per_domain = phi["metrics"][domain_key("seen", SYNTH_DOMAINS[0])]["frames"]
    for domain in sorted({d for d, _ in runs}):
        theta = thetas[domain]
        out.append(line(domain, "joint",
                        f"{per_domain} / {per_domain * len(SYNTH_DOMAINS)}", theta,
                        figures(control, domain_key("unseen", domain)),
                        figures(phi, domain_key("unseen", domain))))
        out += [line(domain, "this domain only", f"{n} / {n}", theta, r["control unseen"],
                     r["f_φ unseen"])
                for (d, n), r in sorted(runs.items())
                if d == domain and "f_φ unseen" in r and "control unseen" in r]
    return "\n".join(out) + "\n\n" + source_line("synth_domains", "synth_scaling")


@renderer("synth_augmented")
def synth_augmented() -> str:
    """Per synthetic target domain, unseen frames first: the augmented default model's run."""
    rows = load_result("synth_augmented")["rows"]
    before = load_result("synth_domains")["rows"]["theta_maxs"]
    shown = [dict(before, label="f_θ max-softmax, no augmentation (synth_domains.json)"),
             *(rows[k] for k in ("theta_maxs", "control", "phi", "guard") if k in rows)]
    out = ["| method | " + " | ".join(f"{d} unseen AUPR / MaxF0.5" for d in SYNTH_DOMAINS)
           + " | **unseen mean AUPR / MaxF0.5** | seen mean AUPR / MaxF0.5 | unseen mean mIoU |",
           "|---|" + "---|" * (len(SYNTH_DOMAINS) + 3)]
    for row in shown:
        out.append(table_row(row["label"], *_domain_cells(row), _means(row, "unseen"),
                             _means(row, "seen"), fmt(domain_mean(row, "unseen", "miou"))))
    if all(k in rows for k in ("theta_maxs", "control")):
        out.append("")
        for k in ("phi", "guard"):
            if k not in rows:
                continue
            bar = synth_bar(rows[k], rows["theta_maxs"], rows["control"])
            out.append(f"{rows[k]['label']}: beats both on AUPR and MaxF0.5 in {len(bar.wins)} "
                       f"of {len(SYNTH_DOMAINS)} domains ({', '.join(bar.wins) or 'none'}); its "
                       f"worst AUPR against f_θ is {bar.worst_gap:+.3f} ({bar.worst}); the "
                       f"synthetic bar is {'**met**' if bar.met else 'not met'}.")
    return "\n".join(out) + "\n\n" + source_line("synth_augmented", "synth_domains")


_SCALING_DOMAINS = ("fog", "night", "offroad")  # the N-curve's domains (phi_<domain>_<N> rows)
_SCALING_N = (100, 400)


@renderer("synth_augmented_scaling")
def synth_augmented_scaling() -> str:
    """One f_φ per domain against N unlabelled frames, beside the joint model, augmented."""
    result = load_result("synth_augmented")
    rows = result["rows"]
    theta, control = rows.get("theta_maxs"), rows.get("control")
    out = ["| domain | f_φ from | f_θ unseen AUPR / MaxF0.5 | control unseen | f_φ unseen | "
           "**f_φ − control** AUPR / MaxF0.5 | f_φ − f_θ AUPR / MaxF0.5 | f_φ seen |",
           "|---|---|---|---|---|---|---|---|"]
    if theta is None or control is None:
        return "\n".join(out) + "\n\n" + source_line("synth_augmented")
    for domain in _SCALING_DOMAINS:
        unseen = domain_key("unseen", domain)
        variants = [("80 of each domain (joint)", rows.get("phi"), domain_key("seen", domain))]
        variants += [(f"{n} of {domain}", rows.get(row_id("phi", domain=domain, n=n)),
                      domain_key("seen", domain, n)) for n in _SCALING_N]
        for label, phi, seen in variants:
            if phi is None:
                continue
            out.append(table_row(domain, label, pair(figures(theta, unseen)),
                                 pair(figures(control, unseen)), pair(figures(phi, unseen)),
                                 gain(figures(phi, unseen), figures(control, unseen)),
                                 gain(figures(phi, unseen), figures(theta, unseen)),
                                 pair(figures(phi, seen))))
    costs = [(name, run) for name, run in result.get("training", {}).items()
             if parse_row_id(name).name == "phi"
             and parse_row_id(name).domain in _SCALING_DOMAINS]
    if costs:
        out += ["", "Each per-domain f_φ run (its command in the file's `training`):", "",
                "| run | wall min | CPU min | peak memory GB (10^9 bytes) |", "|---|---|---|---|"]
        out += [table_row(f"`{name}`", minutes(run["wall_s"]), minutes(run["cpu_s"]),
                          fmt(run.get("max_rss_mb") and run["max_rss_mb"] / 1000, 1))
                for name, run in costs]
    return "\n".join(out) + "\n\n" + source_line("synth_augmented")
