"""Shared pytest settings: keep torch to few threads so parallel tests share 2 cores sanely."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

try:  # Tests start node and CLI processes beside this one: torch's default of one thread per
    # core then oversubscribes the 2 CI cores, and a tiny forward measured 865 ms instead of
    # 17 ms. One intra-op thread in the test process keeps the suite fast and predictable.
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the dev environment always has torch
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CAMVID = SHARED / "data" / "camvid"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    if not (CAMVID / "classes.yaml").is_file():
        pytest.skip(f"real CamVid frames not found at {CAMVID} (../shared is absent)")
    return CAMVID


@pytest.fixture(autouse=True)
def _grad_mode_is_restored() -> object:
    """A test (or an in-process CLI run) must not leave torch's global grad mode switched off."""
    torch = sys.modules.get("torch")
    before = torch.is_grad_enabled() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None:
        assert torch.is_grad_enabled() == before, "global torch grad mode leaked from this test"
