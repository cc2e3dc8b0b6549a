"""Shared by the replay / report / compare / rank tests: one torch thread while they run.

On this shared 2-core machine, torch's default two intra-op threads spin-wait for each other
when other processes hold the cores: a tiny forward measured 865 ms with 2 threads and 17 ms
with 1 under a load average of 9. The tests' assertions do not depend on the thread count, so
they run single-threaded and restore the previous setting afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
