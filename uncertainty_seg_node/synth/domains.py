"""The domains of the synthetic world: one source (`city-day`) and shifted targets.

A domain is a layout (what stands where) plus the light and weather it is seen in. Each target
changes what a source-trained model relies on: colours, contrast, textures or the layout itself.
The domains themselves are data, in `config/synth_domains.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from uncertainty_seg_node.config import from_dict
from uncertainty_seg_node.errors import UserError
from uncertainty_seg_node.share import package_share_dir

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Domain:
    """Layout, light and weather of one domain (colours are linear-ish RGB in [0, 1])."""

    name: str
    description: str
    layout: str  # "city" | "rural" | "offroad"
    sky_top: RGB
    sky_horizon: RGB
    haze: RGB  # colour distant things fade to
    visibility_m: float  # transmittance exp(-distance / visibility)
    tint: RGB = (1.0, 1.0, 1.0)  # light colour multiplying the whole scene
    exposure: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    noise_sigma: float = 0.01  # sensor noise, in [0, 1] units
    sun: float = 1.0  # strength of directional shading and cast shadows
    clouds: float = 0.4  # cloud cover of the sky, 0..1
    snow: float = 0.0  # snow cover of horizontal surfaces, 0..1
    flakes: float = 0.0  # falling flakes per 1000 pixels
    blur: float = 0.0  # scattering blur, in pixels of a 448-wide frame
    night: bool = False  # dark ambient; lamps, windows and vehicle lights glow
    anomaly_rate: float = 0.5  # share of frames with an unknown object in view


def load_domains(path: Path) -> dict[str, Domain]:
    """The domains in a YAML file like `config/synth_domains.yaml` (name -> Domain fields)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the synthetic domains {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise UserError(f"{path} must map domain names to their fields")
    domains = {}
    for name, fields in data.items():
        if not isinstance(fields, dict):
            raise UserError(f"domain {name!r} in {path} must be a mapping of Domain fields")
        where = f"field of domain {name!r} in {path}:"
        try:
            domains[str(name)] = from_dict(Domain, {"name": str(name), **fields}, where=where)
        except TypeError as exc:
            raise UserError(f"domain {name!r} in {path}: {exc}") from None
    return domains


DOMAINS: dict[str, Domain] = load_domains(package_share_dir() / "config" / "synth_domains.yaml")

SOURCE_DOMAIN = "city-day"


def domain_names() -> list[str]:
    """All domain names, the source domain first."""
    return list(DOMAINS)


def get_domain(name: str) -> Domain:
    """The domain called `name`; UserError listing the valid names otherwise."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise UserError(
            f"unknown domain {name!r}; valid domains: {', '.join(DOMAINS)} "
            "(see `uncertainty-seg synth --list`)"
        ) from None


def parse_domains(text: str) -> list[Domain]:
    """`city-day,fog,night` -> the domains a drive passes through, in order."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UserError("--domain is empty; give a domain name or a comma-separated list")
    return [get_domain(name) for name in names]
