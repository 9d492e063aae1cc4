"""Child processes that die with the process that started them.

A crawl's extraction workers and document readers are its children. When the crawl is killed
(kill -9, the daemon's time limit) nothing tells them to stop, and they would live on holding
memory. On Linux the kernel kills them (PR_SET_PDEATHSIG); elsewhere a thread in the child
watches for its parent to go.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """Called first thing in a child started by `parent_pid`: the child is killed when that
    process exits. On Linux the kernel watches the parent *thread*, so the child must be started
    by a thread that outlives it (the main thread, or one that waits for the child)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)
            return
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), name="lifeline", daemon=True).start()


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)
