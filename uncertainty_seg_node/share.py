"""The package's share directory (models/, config/, launch/), wherever it is installed."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "uncertainty_seg_node"


def package_share_dir() -> Path:
    """The package share directory: ament index, else a pip install prefix, else the repo."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # noqa: BLE001 - not found, or AMENT_PREFIX_PATH unset outside ROS
        pass
    installed = Path(sys.prefix) / "share" / PACKAGE
    if (installed / "config" / "params.yaml").is_file():
        return installed
    return Path(__file__).resolve().parents[1]  # a source checkout (`pip install -e .`)
