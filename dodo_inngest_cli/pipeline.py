"""The core pipeline: webhook → transform → checks → Result, for one pair or a whole plan."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .cancel import NEVER, Cancel
from .inngest import check_payload
from .locate import with_lines
from .models import Result, Status, TransformStatus, Webhook, matches
from .rules import Finding, Severity, fails, finding
from .sandbox import Transform
from .schemas import SchemaSet
from .snapshots import SnapshotStore, document
from .triggers import Trigger, check_triggers

if TYPE_CHECKING:
    from .functions import FunctionStage


@dataclasses.dataclass(frozen=True)
class Checks:
    """How findings are judged: codes to drop, and whether warnings fail."""

    ignore: frozenset[str] = frozenset()
    strict: bool = False
    dodo_check: bool = True
    """Validate each Dodo body against the official models."""
    now_ms: int | None = None
    """The time `ts-future` compares against; None means now."""


@dataclasses.dataclass(frozen=True)
class Expectations:
    """What the results must also satisfy: snapshots, event schemas, function triggers, and
    the project's own functions run on the events."""

    snapshots: SnapshotStore | None = None
    schemas: SchemaSet | None = None
    triggers: list[Trigger] | None = None
    functions: FunctionStage | None = None
    """The project's Inngest functions (--functions); they replace the triggers file."""
    snapshot_functions: bool = False
    """Snapshots also hold what each function run returned."""

    def close(self) -> None:
        """End the function runners, if any."""
        if self.functions is not None:
            self.functions.close()


@dataclasses.dataclass(frozen=True)
class Planned:
    """A transform with the Dodo event types (globs) it handles; None means every type."""

    transform: Transform
    events: tuple[str, ...] | None = None

    def handles(self, event_type: str) -> bool:
        """Whether this transform's event filter lets the event type through."""
        return self.events is None or matches(event_type, self.events)


def check_input(webhook: Webhook, checks: Checks) -> list[Finding]:
    """Findings about the Dodo body itself (official-model validation), if enabled. On a
    bundled sample they are information only: the tool's own input never fails a build."""
    if not checks.dodo_check:
        return []
    from .dodo import check_webhook

    found = check_webhook(webhook)
    if webhook.bundled:
        found = [dataclasses.replace(f, severity=Severity.INFO,
                                     message=f"{f.message} (a bundled sample, off the model on "
                                             "purpose)") for f in found]
    return found


def evaluate(transform: Transform, webhook: Webhook, checks: Checks,
             inputs: list[Finding] | None = None,
             expect: Expectations | None = None) -> Result:
    """Run one transform on one webhook and judge every finding.

    inputs are the webhook's own findings when already known (see check_input).
    """
    outcome = transform.run(webhook)
    findings = [*(check_input(webhook, checks) if inputs is None else inputs), *outcome.findings,
                *(check_headers(outcome.request.headers) if outcome.request else [])]
    passthrough = any(f.code == "passthrough" for f in outcome.findings)
    sent = outcome.status is TransformStatus.OK and outcome.request is not None \
        and not passthrough
    changes: list[Any] = []
    matches: list[Any] | None = None
    runs: list[Any] | None = None
    if sent and outcome.request is not None:
        contract = check_payload(outcome.request.payload, now_ms=checks.now_ms)
        findings += contract
        if expect and expect.schemas:
            findings += expect.schemas.check(outcome.request.payload)
        if expect and expect.triggers is not None:
            found, matches = check_triggers(expect.triggers, outcome.request.payload)
            findings += found
        if expect and expect.functions is not None and not fails(contract, strict=False):
            found, runs = expect.functions.check(outcome.request.payload)
            findings += found
    if expect and expect.snapshots and outcome.status is TransformStatus.ERROR:
        expect.snapshots.touch(transform.path, webhook.name)  # kept: it could not be compared
    elif expect and expect.snapshots:
        current = document(outcome.request,
                           cancelled=outcome.status is TransformStatus.CANCELLED,
                           functions=[run.snapshot() for run in runs]
                           if expect.snapshot_functions and runs is not None else None)
        found, changes = expect.snapshots.check(transform.path, webhook.name, current)
        findings += found
    findings = with_lines([f for f in findings if f.code not in checks.ignore], transform.code)
    return Result(
        transform=transform.path, sample=webhook.name, source=webhook.source,
        event_type=webhook.event_type, status=_status(outcome.status, findings, checks),
        request=outcome.request, findings=findings, console=outcome.console,
        duration_ms=outcome.duration_ms, changes=changes, triggers=matches, functions=runs)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")
FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection"})


def check_headers(headers: dict[str, str]) -> list[Finding]:
    """headers-invalid for headers no HTTP request can carry as given: a name that is not a
    token, a value that is not printable ASCII, or a header that frames the request."""
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            problem = f"the header name {name!r} is not an HTTP token"
        elif name.lower() in FRAMING:
            problem = f"{name} frames the request: the sender sets it, not the transform"
        elif not isinstance(value, str) or not _VALUE.fullmatch(value):
            problem = f"the {name} header's value is not printable ASCII"
        else:
            continue
        return [finding("headers-invalid", problem,
                        hint='e.g. webhook.headers = { "x-name": "plain ascii" }; encode other '
                             "text (encodeURIComponent)")]
    return []


def skipped(transform: Transform, webhook: Webhook) -> Result:
    """A pair the transform's event filter excludes."""
    return Result(transform=transform.path, sample=webhook.name, source=webhook.source,
                  event_type=webhook.event_type, status=Status.SKIPPED, request=None,
                  findings=[], console=[], duration_ms=0.0)


def run_plan(plan: Sequence[Planned], webhooks: Sequence[Webhook], checks: Checks,
             on_result: Callable[[Result], None] | None = None,
             expect: Expectations | None = None, cancel: Cancel = NEVER) -> list[Result]:
    """Every planned transform on every webhook, in order, skipping filtered-out types."""
    results: list[Result] = []
    inputs: dict[int, list[Finding]] = {}
    for planned in plan:
        for index, webhook in enumerate(webhooks):
            cancel.check()
            if planned.handles(webhook.event_type):
                if index not in inputs:
                    inputs[index] = check_input(webhook, checks)
                result = evaluate(planned.transform, webhook, checks, inputs[index], expect)
            else:
                result = skipped(planned.transform, webhook)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def _status(outcome: TransformStatus, findings: list[Finding], checks: Checks) -> Status:
    if outcome is TransformStatus.ERROR:
        return Status.ERROR
    if fails(findings, strict=checks.strict):
        return Status.FAILED
    if outcome is TransformStatus.CANCELLED:
        return Status.CANCELLED
    return Status.PASSED
