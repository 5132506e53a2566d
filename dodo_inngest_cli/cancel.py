"""Stopping long work on Ctrl-C or SIGTERM: one token, checked between steps and used for waits.

The command line sets the token from its signal handlers; the core checks it between units of
work and waits on it instead of sleeping, so a wait of any length ends at once and what is
known can still be recorded. `Interrupted` is a KeyboardInterrupt: code that is not ours
(Hypothesis, a thread pool) lets it through as it would a Ctrl-C.
"""

from __future__ import annotations

import threading


class Interrupted(KeyboardInterrupt):
    """The user asked to stop (Ctrl-C or SIGTERM)."""


class Cancel:
    """A stop request shared by the threads of one run."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Ask everything that checks this token to stop."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise Interrupted if a stop was asked for."""
        if self._event.is_set():
            raise Interrupted

    def sleep(self, seconds: float) -> None:
        """Wait up to seconds; a stop request ends the wait at once with Interrupted."""
        if (seconds > 0 and self._event.wait(seconds)) or self._event.is_set():
            raise Interrupted


NEVER = Cancel()
"""A token nobody sets: the default for library callers."""
