"""The coverage map: every Dodo event type the installed official SDK knows × every transform.

Each cell is what the transform does with the type's sample: sends it (as which Inngest event
names), cancels it, passes it through raw, fails on it, or never sees it (its configured event
filter excludes the type). A type with no sample is listed as such, so a type the SDK gains
shows up the day it is installed. A type no transform sends is unhandled unless the config
declares it ignored (`ignore-events`). With fields, each cell also lists the payload fields
the transform read and whether it survives the nullable or optional ones being null or absent.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from typing import Any

from .fields import FieldRead, read_fields
from .inngest import event_names
from .models import Result, Status, Webhook, matches
from .pipeline import Checks, Planned, evaluate
from .rules import Severity

COVERAGE_VERSION = 1


class Handling(str, enum.Enum):
    """What a transform does with an event type."""

    SENT = "sent"
    CANCELLED = "cancelled"
    PASSTHROUGH = "passthrough"
    """Sent as the raw Dodo body, which Inngest rejects."""
    ERROR = "error"
    """The transform could not run to the end."""
    FILTERED = "filtered"
    """The transform's configured event filter excludes the type: it never sees it."""
    NO_SAMPLE = "no-sample"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One transform × event type."""

    transform: str
    handling: Handling
    names: tuple[str, ...] = ()
    """The Inngest event names sent."""
    status: Status | None = None
    """The `test` verdict of the run (None when it did not run)."""
    fields: tuple[FieldRead, ...] | None = None
    """The payload fields read, when asked for."""
    reason: str = ""
    """Why the transform could not run to the end (an error cell): the first error."""

    def to_json(self) -> dict[str, Any]:
        """The cell as the JSON report shows it."""
        document: dict[str, Any] = {
            "transform": self.transform, "outcome": self.handling.value,
            "names": list(self.names), "status": self.status.value if self.status else None}
        if self.reason:
            document["reason"] = self.reason
        if self.fields is not None:
            document["fields"] = [read.to_json() for read in self.fields]
        return document


@dataclasses.dataclass(frozen=True)
class TypeRow:
    """One Dodo event type across the transforms."""

    event_type: str
    sample: str | None
    """The payload it was run on."""
    ignored: bool
    """Declared deliberately not handled (`ignore-events`)."""
    cells: tuple[Cell, ...]

    @property
    def sent(self) -> bool:
        """Some transform sends it."""
        return any(cell.handling is Handling.SENT for cell in self.cells)

    @property
    def unhandled(self) -> bool:
        """No transform sends it and it is not declared ignored."""
        return not self.sent and not self.ignored


@dataclasses.dataclass(frozen=True)
class CoverageMap:
    """Every event type the SDK knows × every transform."""

    sdk_version: str
    transforms: tuple[str, ...]
    ignore: tuple[str, ...]
    """The `ignore-events` globs."""
    rows: tuple[TypeRow, ...]

    @property
    def unhandled(self) -> list[str]:
        """Types no transform sends and the config does not declare ignored."""
        return [row.event_type for row in self.rows if row.unhandled]

    @property
    def no_sample(self) -> list[str]:
        """Types with no sample to run."""
        return [row.event_type for row in self.rows if row.sample is None]

    def unmatched_ignores(self, known: Iterable[str]) -> list[str]:
        """`ignore-events` globs that match no known type (a typo, or a type renamed)."""
        types = list(known)
        return [glob for glob in self.ignore if not matches_any(types, glob)]

    def to_json(self) -> dict[str, Any]:
        """The JSON coverage report."""
        return {
            "version": COVERAGE_VERSION,
            "sdk": {"name": "dodopayments", "version": self.sdk_version},
            "transforms": list(self.transforms), "ignore_events": list(self.ignore),
            "summary": {"types": len(self.rows), "sent": sum(r.sent for r in self.rows),
                        "ignored": sum(r.ignored and not r.sent for r in self.rows),
                        "unhandled": len(self.unhandled), "no_sample": len(self.no_sample)},
            "types": [{"event_type": row.event_type, "sample": row.sample, "sent": row.sent,
                       "ignored": row.ignored,
                       "transforms": [cell.to_json() for cell in row.cells]}
                      for row in self.rows],
            "unhandled": self.unhandled}


def matches_any(types: Iterable[str], glob: str) -> bool:
    """Whether the glob matches any of the types."""
    return any(matches(event_type, [glob]) for event_type in types)


def coverage_map(plan: Sequence[Planned], webhooks: Sequence[Webhook], checks: Checks, *,
                 ignore: Sequence[str] = (), events: Sequence[str] = (),
                 results: Sequence[Result] = (), fields: bool = False) -> CoverageMap:
    """The map of the planned transforms over every type the SDK knows (or those matching
    events). Each type runs on its sample among webhooks (the one named after the type, else
    the first of that type), else the bundled one; results already at hand are reused."""
    from .dodo import event_models, sdk_version

    known = {(r.transform, r.source): r for r in results}
    rows = []
    for event_type in sorted(event_models()):
        if events and not matches(event_type, events):
            continue
        webhook = sample_for(event_type, webhooks)
        cells = tuple(_cell(planned, webhook, checks, known, fields) for planned in plan)
        rows.append(TypeRow(event_type, webhook.source if webhook else None,
                            matches(event_type, ignore), cells))
    return CoverageMap(sdk_version(), tuple(p.transform.path for p in plan), tuple(ignore),
                       tuple(rows))


def sample_for(event_type: str, webhooks: Sequence[Webhook]) -> Webhook | None:
    """The payload an event type is mapped with: the one named after it among webhooks, else
    the first of that type, else the bundled sample; None when there is none."""
    of_type = [w for w in webhooks if w.event_type == event_type]
    named = [w for w in of_type if w.name == event_type]
    if named or of_type:
        return (named or of_type)[0]
    from .library import library_root
    from .sources import read_webhook, shown

    bundled = library_root() / f"{event_type}.json"
    return read_webhook(shown(bundled)) if bundled.is_file() else None


def _cell(planned: Planned, webhook: Webhook | None, checks: Checks,
          known: dict[tuple[str, str], Result], fields: bool) -> Cell:
    transform = planned.transform
    if webhook is None:
        return Cell(transform.path, Handling.NO_SAMPLE)
    if not planned.handles(webhook.event_type):
        return Cell(transform.path, Handling.FILTERED)
    result = known.get((transform.path, webhook.source)) or \
        evaluate(transform, webhook, checks)
    reads = tuple(read_fields(transform, webhook, checks, result)) if fields else None
    return Cell(transform.path, handling(result, webhook), _names(result), result.status,
                reads, _reason(result))


def handling(result: Result, webhook: Webhook) -> Handling:
    """What the transform did with the webhook, from its result."""
    if result.status is Status.ERROR:
        return Handling.ERROR
    if result.status is Status.CANCELLED or any(f.code == "cancelled" for f in result.findings):
        return Handling.CANCELLED
    if result.request is not None and result.request.payload == webhook.payload:
        return Handling.PASSTHROUGH
    return Handling.SENT


def _reason(result: Result) -> str:
    """The first error of a run that did not end, as `code: message`."""
    if result.status is not Status.ERROR:
        return ""
    first = next((f for f in result.findings if f.severity is Severity.ERROR), None)
    return f"{first.code}: {first.message}" if first else ""


def _names(result: Result) -> tuple[str, ...]:
    if result.request is None or result.status in (Status.ERROR, Status.CANCELLED):
        return ()
    return tuple(event_names(result.request.payload))
