"""Ctrl-C and SIGTERM for long commands: one style everywhere.

The first signal sets the run's `Cancel` token (every wait in the core ends at once and every
loop stops at its next check) and raises KeyboardInterrupt in the main thread, which ends a
blocking call there; should that be swallowed somewhere, the token still stops the work.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from ..cancel import Cancel


@contextlib.contextmanager
def interruptible(*, raising: bool = True, again: Cancel | None = None) -> Iterator[Cancel]:
    """A Cancel token set by SIGINT or SIGTERM while the block runs.

    With raising=False the first signal only sets the token, for loops that check it often
    and must not be stopped in the middle of printing (a second signal raises, or, given
    `again`, sets that token instead: for a stop that drains in steps of its own).
    """
    cancel = Cancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel  # signals reach only the main thread; nothing to install
        return
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raising and not cancel.is_set():
            cancel.set()
            return
        if again is not None:
            again.set()
            return
        cancel.set()
        if not raised:
            raised = True
            raise KeyboardInterrupt

    previous: dict[signal.Signals, Any] = {
        wanted: signal.signal(wanted, handler) for wanted in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel
    finally:
        for installed, old in previous.items():
            signal.signal(installed, old)
