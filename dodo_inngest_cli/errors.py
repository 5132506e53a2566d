"""Exit codes and the few exception types the core raises.

Every expected failure is a :class:`DodoInngestError` with a one-line message, an
optional hint and an exit code; the CLI turns them into text in one place.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, the same for every command."""

    OK = 0
    """Success: every check passed, every delivery went through."""
    FAILED = 1
    """Checks failed, or some deliveries failed."""
    USAGE = 2
    """Usage or input error: bad flag, unreadable file, bad config, nothing matched."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C)."""


def verdict(ok: bool, *, interrupted: bool = False) -> ExitCode:
    """The exit code of a run: interrupted, else passed or failed."""
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if ok else ExitCode.FAILED


class DodoInngestError(Exception):
    """An expected failure: what went wrong, where, and what to try."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(DodoInngestError):
    """A file, folder, payload or flag value that cannot be used."""


class ConfigError(DodoInngestError):
    """A configuration file that cannot be read or has bad keys or values."""



def in_range(option: str, value: float, low: float, high: float | None = None,
             unit: str = "", *, hint: str | None = None) -> None:
    """Refuse a number outside [low, high] (or below low) as an InputError naming the option
    and the allowed range; NaN, and anything not a number, is out of range too."""
    if not isinstance(value, bool) and isinstance(value, (int, float)) \
            and low <= value and (high is None or value <= high):
        return
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    allowed = f"{low:,g}–{high:,g}" if high is not None else f"at least {low:,g}"
    raise InputError(f"{option} {shown}: out of range ({allowed}{' ' + unit if unit else ''})",
                     hint=hint)
