"""The model card's statement of the shipping rule, with its verdict on the result files.

Every part of the rule and its threshold comes from `shipping.py`, the one place the rule
lives; tools/make_default_model.sh takes its default `SHIP=` from the same verdict.
"""

from __future__ import annotations

from studies.results.render import renderer, source_line, table_row
from studies.results.shipping import MODELS, current_verdict, present_sources


@renderer("shipping_rule")
def shipping_rule() -> str:
    """The rule, part by part: its bar, the figures measured, whether it holds; the model."""
    verdict = current_verdict()
    out = ["f_φ, the method's model, ships as the default only if its recipe meets every part "
           "of the bar below, on frames it never adapted to (a model adapted per fold is "
           "measured on the other fold). Then the demo drive decides, a tie going to f_φ. "
           "Otherwise f_θ ships. The other model ships as the compare model. The rule is "
           "`ship_verdict` in `studies/results/shipping.py`; `tools/make_default_model.sh` "
           "takes its default `SHIP=` from it (`python -m studies.results ship-verdict`).", "",
           "| part of the rule | the bar | measured | met |", "|---|---|---|---|"]
    for check in (*verdict.bar, verdict.demo):
        met = {True: "yes", False: "**no**", None: "not measured"}[check.met]
        out.append(table_row(check.name, check.bar, check.measured, met))
    out += ["", f"**{MODELS[verdict.ship]} ships**: {verdict.reason()}"]
    return "\n".join(out) + "\n\n" + source_line(*present_sources())
