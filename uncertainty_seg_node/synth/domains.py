"""The domains of the synthetic world: one source (`city-day`) and shifted targets.

A domain is a layout (what stands where) plus the light and weather it is seen in. Each target
changes what a source-trained model relies on: colours, contrast, textures or the layout itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from uncertainty_seg_node.errors import UserError

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


DOMAINS: dict[str, Domain] = {
    d.name: d
    for d in (
        Domain(
            name="city-day", layout="city", anomaly_rate=0.06,
            description="source: sunny city streets, buildings, traffic, pedestrians",
            sky_top=(0.26, 0.47, 0.85), sky_horizon=(0.68, 0.80, 0.93),
            haze=(0.72, 0.80, 0.90), visibility_m=700.0,
        ),
        Domain(
            name="rural", layout="rural",
            description="country road at golden hour: fields, hedges, farms, no sidewalks",
            sky_top=(0.42, 0.52, 0.78), sky_horizon=(0.98, 0.80, 0.58),
            haze=(0.95, 0.80, 0.62), visibility_m=220.0, tint=(1.18, 0.98, 0.72),
            contrast=0.9, saturation=1.15, sun=1.3, clouds=0.25,
        ),
        Domain(
            name="night", layout="city",
            description="city at night: dark, sodium street lamps, headlights, lit windows, noise",
            sky_top=(0.010, 0.012, 0.030), sky_horizon=(0.10, 0.075, 0.08),
            haze=(0.05, 0.04, 0.05), visibility_m=400.0, tint=(0.85, 0.95, 1.35),
            exposure=0.16, noise_sigma=0.035, sun=0.0, clouds=0.0, night=True,
        ),
        Domain(
            name="fog", layout="city",
            description="dense fog: contrast falls off with distance within tens of metres",
            sky_top=(0.74, 0.76, 0.78), sky_horizon=(0.80, 0.81, 0.82),
            haze=(0.78, 0.79, 0.80), visibility_m=15.0, contrast=0.72, saturation=0.45,
            sun=0.0, clouds=0.0, exposure=1.05, blur=1.0,
        ),
        Domain(
            name="snow", layout="city",
            description="snowfall: white ground, roofs and trees, falling flakes, low contrast",
            sky_top=(0.70, 0.72, 0.77), sky_horizon=(0.84, 0.85, 0.88),
            haze=(0.84, 0.86, 0.89), visibility_m=35.0, tint=(0.93, 0.97, 1.06),
            contrast=0.72, saturation=0.4, sun=0.1, clouds=0.0, snow=1.0, flakes=7.0, blur=0.7,
        ),
        Domain(
            name="offroad", layout="offroad",
            description="bumpy dirt track through dense, shady vegetation; no buildings",
            sky_top=(0.48, 0.58, 0.74), sky_horizon=(0.78, 0.82, 0.84),
            haze=(0.62, 0.68, 0.64), visibility_m=140.0, tint=(0.9, 1.04, 0.82),
            exposure=0.85, sun=0.7, clouds=0.6, blur=0.5,
        ),
    )
}

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
