"""The values that flow through the pipeline: webhooks in, checked results out."""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .rules import Finding, Severity

if TYPE_CHECKING:
    from .functions import FunctionRun
    from .snapshots import Change
    from .triggers import Match


@dataclasses.dataclass(frozen=True)
class Webhook:
    """One Dodo delivery: its parsed body, the raw body as received, headers and origin."""

    payload: Any
    body: str
    source: str
    """Where it came from, for people: a file path, `<stdin>`, a capture line."""
    name: str
    """A short name for tables: the sample file's stem."""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    bundled: bool = False
    """One of the samples the tool ships: what is wrong with it is not the user's to fix."""

    @property
    def event_type(self) -> str:
        """The Dodo event type (`payload.type`), or "" when the body has none."""
        return _type_of(self.payload)


def _type_of(payload: Any) -> str:
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else ""


def event_type_of(body: str) -> str:
    """The Dodo event type of a raw body, or "" when it is not a JSON object with a type."""
    try:
        return _type_of(json.loads(body))
    except (ValueError, RecursionError):
        return ""


def matches(event_type: str, globs: Iterable[str]) -> bool:
    """Whether a Dodo event type matches any of the globs (`payment.*`, `*`)."""
    return any(fnmatch.fnmatchcase(event_type, glob) for glob in globs)


@dataclasses.dataclass(frozen=True)
class OutgoingRequest:
    """The request Dodo would send to the endpoint after the transform."""

    method: str
    url: str
    headers: dict[str, str]
    payload: Any

    def to_json(self) -> dict[str, Any]:
        """The request as a JSON object (the URL as given; mask it before showing)."""
        return {"method": self.method, "url": self.url, "headers": self.headers,
                "payload": self.payload}


@dataclasses.dataclass(frozen=True)
class ConsoleLine:
    """One console.* call made by the transform."""

    level: str
    text: str


class TransformStatus(str, enum.Enum):
    """How a transform run ended."""

    OK = "ok"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class TransformResult:
    """What one run of a transform on one webhook produced."""

    status: TransformStatus
    request: OutgoingRequest | None
    findings: list[Finding]
    console: list[ConsoleLine]
    duration_ms: float
    stack: str = ""
    reads: tuple[str, ...] | None = None
    """The payload fields the handler read (JSON pointers, `*` for array items), when the run
    tracked them."""


class Status(str, enum.Enum):
    """The verdict on one transform × sample."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


@dataclasses.dataclass(frozen=True)
class Result:
    """One transform run on one sample, with every finding that applies."""

    transform: str
    sample: str
    source: str
    event_type: str
    status: Status
    request: OutgoingRequest | None
    findings: list[Finding]
    console: list[ConsoleLine]
    duration_ms: float
    changes: list[Change] = dataclasses.field(default_factory=list)
    """Snapshot differences, when a snapshot was compared."""
    triggers: list[Match] | None = None
    """The functions the events trigger, when triggers were declared."""
    functions: list[FunctionRun] | None = None
    """The project's functions that ran on the events, with --functions."""

    @property
    def warnings(self) -> list[Finding]:
        """The findings of warning severity."""
        return [f for f in self.findings if f.severity is Severity.WARNING]
