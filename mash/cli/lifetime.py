"""Child processes that cannot outlive the process that started them, and a supervisor's
stop that no signal can interrupt.

A supervisor stopped by SIGKILL (or the out-of-memory killer) runs no cleanup, so its
children would go on holding their ports: the next `make run` then finds them in the way.
On Linux the kernel can send a child a signal when its parent dies (PR_SET_PDEATHSIG);
elsewhere the children are left to the supervisor's own cleanup.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    prctl: Callable[[int, int], int] = libc.prctl
    return prctl


# Loaded once here, in the parent: the child between fork and exec should do as little as it can.
_PRCTL = _prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for Popen: the child is SIGKILLed when the process starting it ends.

    The kernel watches the *thread* that forked, so start such children from the main thread
    (or one that lives as long as the process). None where the kernel can't do it.
    """
    if _PRCTL is None:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died between fork and prctl, when nothing would signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class StopRequest:
    """SIGINT and SIGTERM only note that a stop was asked for; the supervisor looks between steps.

    A handler that raised instead would fire wherever the supervisor happened to be: between
    starting a process and keeping its handle (which then ran on, unseen), or, at a second
    signal, in the middle of stopping the others. `make run` stopped by a signal to its
    process group gives the supervisor two: make passes its own on.
    """

    def __init__(self) -> None:
        self.requested = False

    @classmethod
    def installed(cls) -> StopRequest:
        request = cls()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request._note)
        return request

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def ignore_from_now(self) -> None:
        """For once everything is stopped: Python restores the default handlers as it exits, and
        a signal still on its way (make's, after the terminal's) would then kill it mid-exit.
        Not before: a process started while signals are ignored would ignore them too."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)

    def pause(self, seconds: float) -> bool:
        """Sleeps `seconds`, or less if a stop is requested meanwhile; whether one was."""
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.1, left))
        return self.requested
