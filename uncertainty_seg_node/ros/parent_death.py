"""Exit with the process that started the node, so a dead launch never leaves it publishing.

A `ros2 launch` killed with SIGTERM or SIGKILL does not stop its children: the node would be
re-parented to init and go on publishing a certain mask nobody supervises. On Linux the kernel
can signal a process when its parent dies (`prctl(PR_SET_PDEATHSIG)`); `exit_with_parent` asks
for SIGTERM, which the node's main turns into a clean stop (rclpy's handler).

Two caveats of PR_SET_PDEATHSIG: "parent" is the *thread* that started the process (launch
starts its processes from its event loop, which lives as long as the launch does), and a parent
that died before the call is not noticed by the kernel. That last case is caught by comparing
the parent pid with the one seen when this module was first imported: import it first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

_LOG = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The parent as early as the node's process can see it (this module is imported first).
PARENT_AT_START = os.getppid()


def exit_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> bool:
    """Have the kernel send `sig` to this process when its parent dies.

    Returns False when the parent (`parent`, else the parent at import) is already gone: the
    signal would then never come, so the caller should exit now. On systems other than Linux
    this does nothing (a debug log line) and returns True.
    """
    expected = PARENT_AT_START if parent is None else parent
    if not sys.platform.startswith("linux"):
        _LOG.debug("exit_with_parent: PR_SET_PDEATHSIG exists only on Linux, not on %s",
                   sys.platform)
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        _LOG.warning("prctl(PR_SET_PDEATHSIG) failed (%s); this process will outlive its "
                     "parent", os.strerror(error))
        return True
    # Checked after the call: a parent dying from here on is signalled by the kernel.
    return os.getppid() == expected
