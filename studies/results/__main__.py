"""`python -m studies.results`: record, render, check (see `studies/results/__init__.py`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studies.results import prose_figures, run_command
from studies.results.record import RESULTS_DIR
from studies.results.schema import validate


def _tables(args: argparse.Namespace) -> int:
    from studies.results.tables import rewrite

    differing = rewrite(check=args.check)
    for item in differing:
        print(("differs: " if args.check else "rewrote: ") + item)
    if args.check and differing:
        print("run `python -m studies.results tables` to rewrite them", file=sys.stderr)
    return 1 if args.check and differing else 0


def _figures(args: argparse.Namespace) -> int:
    failing = prose_figures.check()
    for figure in failing:
        print(figure)
    if failing:
        print(f"{len(failing)} figure(s) without their result file: cite the file on the line, "
              "render the figure from it, or drop it (studies/results/prose_figures.py)",
              file=sys.stderr)
    return 1 if failing else 0


def _validate(args: argparse.Namespace) -> int:
    bad = 0
    for path in sorted(RESULTS_DIR.glob("*.json")):
        for problem in validate(json.loads(path.read_text())):
            print(f"{path.name}: {problem}")
            bad += 1
    return 1 if bad else 0


def _ship_verdict(args: argparse.Namespace) -> int:
    from studies.results.shipping import MODELS, current_verdict

    verdict = current_verdict()
    if args.model:
        print(verdict.ship)
        return 0
    for check in (*verdict.bar, verdict.demo):
        met = {True: "met", False: "NOT MET", None: "not measured"}[check.met]
        print(f"{check.name}: {met}: {check.measured} (bar: {check.bar})")
    print(f"{MODELS[verdict.ship]} ships: {verdict.reason()}")
    return 0


def _domains(args: argparse.Namespace) -> int:
    from studies.results.figures import shell_domains

    print(shell_domains(), end="")
    return 0


def _plot_scaling(args: argparse.Namespace) -> int:
    from studies.results.plots import DEFAULT_OUT, plot_scaling

    return plot_scaling(args.out or DEFAULT_OUT)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand."""
    parser = argparse.ArgumentParser(prog="python -m studies.results",
                                     description="The results pipeline: docs/results/ and the "
                                     "docs' figures.")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command and record its JSON as a row",
                         description=run_command.__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run_command.add_arguments(run)
    run.set_defaults(handler=run_command.run)
    tables = sub.add_parser("tables", help="rewrite the docs' generated tables")
    tables.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 naming each table that differs")
    tables.set_defaults(handler=_tables)
    sub.add_parser("figures", help="prose figures that lack their result file").set_defaults(
        handler=_figures)
    sub.add_parser("validate", help="every result file against the schema").set_defaults(
        handler=_validate)
    ship = sub.add_parser("ship-verdict", help="the shipping rule on docs/results/: which model "
                          "ships as the default (studies/results/shipping.py)")
    ship.add_argument("--model", action="store_true",
                      help="print only the model, f_theta or f_phi (make_default_model.sh's SHIP)")
    ship.set_defaults(handler=_ship_verdict)
    sub.add_parser("domains", help="the synthetic domains and their seed offsets, as bash for "
                   "the study scripts (studies/results/figures.py)").set_defaults(
        handler=_domains)
    plot = sub.add_parser("plot-scaling", help="docs/experiments/synth_scaling.png")
    plot.add_argument("--out", type=Path, help="the PNG to write (default: "
                      "docs/experiments/synth_scaling.png)")
    plot.set_defaults(handler=_plot_scaling)
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)  # `run`'s command follows `--`
    args = parser.parse_args(argv[:split])
    args.cmd = argv[split + 1:]
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
