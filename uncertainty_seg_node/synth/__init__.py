"""The procedural driving world in Cityscapes train-id space (`uncertainty-seg synth`).

`render_frames` gives independent scenes (training and test sets), `render_drive` a coherent
drive that may pass through several domains (bags). Unknown objects are labelled 255 and marked
in a separate anomaly mask.
"""

from uncertainty_seg_node.synth.domains import (
    DOMAINS,
    SOURCE_DOMAIN,
    Domain,
    domain_names,
    get_domain,
    parse_domains,
)
from uncertainty_seg_node.synth.drive import SynthFrame, render_drive, render_frames

__all__ = [
    "DOMAINS", "SOURCE_DOMAIN", "Domain", "SynthFrame", "domain_names", "get_domain",
    "parse_domains", "render_drive", "render_frames",
]
