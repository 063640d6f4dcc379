"""Worker processes that never outlive the run that started them."""
from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl option, linux/prctl.h


def end_with_parent() -> None:
    """In a worker process: be killed when the process that started it dies, even by kill -9 (Linux), instead of
    living on as an orphan; elsewhere a no-op. For workers started from the parent's main thread only: the kernel
    ties the signal to the thread that started the worker."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
