"""Tables of off-road frames: per class, and the shipped models on the real off-road drive.

Result files: offroad_classes.json (the synthetic off-road domain) and ycor_shipped_classes.json
(the real YCOR drive), both rows of studies/class_breakdown.py, one per model; ycor_shipped.json
(studies/ycor_shipped.sh: `uncertainty-seg evaluate` of each shipped model on the drive).
"""

from __future__ import annotations

from functools import partial

from studies.results.figures import MISSING, fmt
from studies.results.record import load_result
from studies.results.render import renderer, source_line, table_row


def class_breakdown_table(name: str) -> str:
    """Per class of result NAME: what each model calls it, its certain share, how rightly."""
    result = load_result(name)
    models = list(result["rows"].values())
    first = models[0]["metrics"]["classes"]
    head = "| class | share of pixels | " + " | ".join(
        f"{m['label']}: called (share) | certain, its precision" for m in models) + " |"
    out = [head, "|---|---|" + "---|---|" * len(models)]
    for cls in sorted(first, key=lambda n: -first[n]["share"]):
        cells: list[str] = []
        for m in models:
            c = m["metrics"]["classes"].get(cls)
            cells += ([MISSING, MISSING] if c is None else [
                f"{c['top_prediction']} ({fmt(c['top_prediction_share'], 2)})",
                f"{fmt(c['certain_fraction'], 2)}, {fmt(c['certain_precision'])}"])
        out.append(table_row(cls, fmt(first[cls]["share"]), *cells))
    out.append(table_row("**all pixels**", "1.000", *[
        cell for m in models for cell in (
            f"accuracy {fmt(m['metrics']['accuracy'])}",
            f"{fmt(m['metrics']['certain_fraction'], 2)}, "
            f"{fmt(m['metrics']['certain_precision'])} (γ {fmt(m['metrics']['gamma'])})")]))
    return "\n".join(out) + "\n\n" + source_line(name)


# The per-class tables: the synthetic off-road domain, and the real drive for the shipped models.
for _name in ("offroad_classes", "ycor_shipped_classes"):
    renderer(_name)(partial(class_breakdown_table, _name))


@renderer("ycor_shipped")
def ycor_shipped() -> str:
    """The shipped models on every labelled frame of the real off-road drive."""
    rows = load_result("ycor_shipped")["rows"]
    out = ["| model | frames | pixel acc. | mIoU | MaxF0.5 @ p(a,c) | AUPR | AUROC | FPR95 | "
           "ECE | γ | certain at γ |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows.values():
        r = row["metrics"]
        out.append(table_row(
            row["label"], str(r["frames"]), fmt(r["accuracy"]), fmt(r["miou"]),
            f"{fmt(r['maxf05'])} @ {fmt(r['p_ac_at_maxf05'])}", fmt(r["aupr"]), fmt(r["auroc"]),
            fmt(r["fpr95"]), fmt(r["ece"]), fmt(r["gamma"]), fmt(r["certain_fraction"])))
    return "\n".join(out) + "\n\n" + source_line("ycor_shipped")
