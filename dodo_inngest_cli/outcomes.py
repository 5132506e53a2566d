"""What happened to a delivery or an event on its way to Inngest: one vocabulary for `send`,
`replay`, `listen --forward`, the replay state file, every view and the README."""

from __future__ import annotations

import enum


class Outcome(str, enum.Enum):
    """The fate of one delivery (or one event) sent, or not sent, to Inngest."""

    ACCEPTED = "accepted"
    """Inngest accepted it and gave it an id."""
    REJECTED = "rejected"
    """Inngest refused it (a 4xx answer)."""
    FAILED = "failed"
    """No answer settled it: network errors, 5xx or 429 until the retries ran out."""
    CANCELLED = "cancelled"
    """The transform cancelled the delivery (production shows it as a success)."""
    ERROR = "error"
    """Not sent: the transform failed, or its result has error findings."""
    BLOCKED = "blocked"
    """Not sent: `send` found errors in other payloads and --force was not given."""
    SKIPPED = "skipped"
    """Not sent: the replay state says this target already accepted it."""
    DUPLICATE = "duplicate"
    """Not sent: a repeat of an earlier delivery in the same input (a Dodo retry)."""
    INVALID = "invalid"
    """Not sent: unreadable, or its signature does not verify."""
    WOULD_SEND = "would-send"
    """A dry run: this is what would be sent."""

    @property
    def failing(self) -> bool:
        """Whether this outcome makes the command exit 1."""
        return self in FAILING


FAILING = frozenset({Outcome.REJECTED, Outcome.FAILED, Outcome.ERROR, Outcome.BLOCKED})
