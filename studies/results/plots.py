"""Plots from result files: the unseen-frame gain of f_φ against N unlabelled frames.

    python -m studies.results plot-scaling [--out docs/experiments/synth_scaling.png]

Reads docs/results/synth_scaling.json (studies/synth_scaling.sh) and draws, per domain, f_φ's
AUPR and MaxF0.5 on unseen frames minus the control's (the same recipe with w_c = 0 at the same
N) and minus f_θ's. Needs matplotlib.
"""

from __future__ import annotations

from pathlib import Path

from studies.results.figures import scaling_runs
from studies.results.record import ROOT, load_result

DEFAULT_OUT = ROOT / "docs" / "experiments" / "synth_scaling.png"


def plot_scaling(out: Path = DEFAULT_OUT) -> int:
    """Draw the N-scaling plot into `out` (the `plot-scaling` command parses its `--out`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = load_result("synth_scaling")
    runs, theta = scaling_runs(result["rows"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharex=True)
    for axis, metric, name in ((axes[0], "aupr", "AUPR"), (axes[1], "maxf05", "MaxF0.5")):
        for domain in sorted({d for d, _ in runs}):
            ns = sorted(n for d, n in runs if d == domain)
            rows = [runs[(domain, n)] for n in ns]
            control = [r["f_φ unseen"][metric] - r["control unseen"][metric] for r in rows]
            axis.plot(ns, control, "o-", label=f"{domain}: f_φ − control")
            if domain in theta:
                base = theta[domain][metric]
                axis.plot(ns, [r["f_φ unseen"][metric] - base for r in rows], "s--",
                          label=f"{domain}: f_φ − f_θ")
        axis.axhline(0.0, color="grey", linewidth=0.8)
        axis.set_xscale("log")
        all_n = sorted({n for _, n in runs})
        axis.set_xticks(all_n, [str(n) for n in all_n])
        axis.minorticks_off()
        axis.set_xlabel("unlabelled target frames N")
        axis.set_ylabel(f"unseen {name} gain")
        axis.legend(fontsize=7)
    fig.suptitle(f"Masked γ-SSL gain on unseen frames against N ({result['date'][:10]}, "
                 "docs/results/synth_scaling.json)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0

