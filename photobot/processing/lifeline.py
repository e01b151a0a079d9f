"""Pool processes die with their parent, even when the parent is killed with SIGKILL.

The pool's processes are children of multiprocessing's forkserver, which is a child of photobot. A
SIGKILL of photobot gives neither a chance to clean up: the workers sit blocked on their call queue
(they hold both ends of its pipe, so they never see end-of-file) and outlive it. On Linux,
prctl(PR_SET_PDEATHSIG) asks the kernel to send a signal when the parent dies; the worker
initializer asks for it in each worker (parent: the forkserver), and the forkserver asks for it when
it imports `photobot.processing.forkserver_preload` (parent: photobot), so the chain holds whoever is
killed. Elsewhere it is a no-op.

A worker asks for the signal some time after the fork, and the forkserver may die in between: the
worker has been re-parented by then, and compared with its new parent it would arm against a process
that never dies. So a worker compares with the forkserver's pid, which it inherited at the fork.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None = None) -> bool:
    """Ask for SIGKILL when the parent goes; exit now if it is already gone. True when armed.

    `expected_parent`: the parent pid seen before the call. The parent may die between fork and
    prctl; then the process has been re-parented already and no signal would ever come.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = expected_parent if expected_parent is not None else os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:
        os._exit(1)
    return True


def forkserver_pid() -> int | None:
    """The pid of the forkserver this process was forked from; None when it was not forked by one
    that imported `photobot.processing.forkserver_preload`."""
    preload = sys.modules.get("photobot.processing.forkserver_preload")
    pid = getattr(preload, "PID", None)
    return pid if isinstance(pid, int) and pid != os.getpid() else None
