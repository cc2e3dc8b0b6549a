"""A default Fast DDS transport profile for camera-sized messages.

The profile is config/fastdds_large_data.xml (its comment says why).

Applied by the node's `main()` and the harness before their ROS context starts, and only when
nobody chose otherwise: no Fast DDS profile in the environment, Fast DDS as the RMW (the default)
and `UNCERTAINTY_SEG_FASTDDS_PROFILE` not set to `none` (or set to another file to use that).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from uncertainty_seg_node.share import package_share_dir

PROFILE_NAME = "fastdds_large_data.xml"
_PROFILE_VARS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
_SWITCH = "UNCERTAINTY_SEG_FASTDDS_PROFILE"


def default_profile() -> Path | None:
    """The packaged profile (share dir, else the source tree), or None if it is missing."""
    for base in (package_share_dir(), Path(__file__).resolve().parents[2]):
        candidate = base / "config" / PROFILE_NAME
        if candidate.is_file():
            return candidate
    return None


def apply_default_profile(environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Point Fast DDS at the large-data profile unless configured otherwise; returns the file."""
    env = os.environ if environ is None else environ
    choice = env.get(_SWITCH, "")
    if choice.lower() == "none" or any(env.get(name) for name in _PROFILE_VARS):
        return None
    if not env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps"):
        return None
    profile = Path(choice) if choice else default_profile()
    if profile is None or not profile.is_file():
        return None
    # Fast DDS 3 (Kilted and later) reads FASTDDS_..., Fast DDS 2 (Humble, Jazzy) only
    # FASTRTPS_...: set both, or Jazzy runs without the profile (1.2 MB messages over UDP).
    for name in _PROFILE_VARS:
        env[name] = str(profile)
    return profile
