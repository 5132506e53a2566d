"""The core pipeline: webhook → transform → checks → Result, for one pair or a whole plan."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .inngest import check_payload
from .models import Result, Status, TransformStatus, Webhook, matches
from .rules import Finding, Severity
from .sandbox import Transform


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
class Planned:
    """A transform with the Dodo event types (globs) it handles; None means every type."""

    transform: Transform
    events: tuple[str, ...] | None = None

    def handles(self, event_type: str) -> bool:
        """Whether this transform's event filter lets the event type through."""
        return self.events is None or matches(event_type, self.events)


def check_input(webhook: Webhook, checks: Checks) -> list[Finding]:
    """Findings about the Dodo body itself (official-model validation), if enabled."""
    if not checks.dodo_check:
        return []
    from .dodo import check_webhook

    return check_webhook(webhook)


def evaluate(transform: Transform, webhook: Webhook, checks: Checks,
             inputs: list[Finding] | None = None) -> Result:
    """Run one transform on one webhook and judge every finding.

    inputs are the webhook's own findings when already known (see check_input).
    """
    outcome = transform.run(webhook)
    findings = [*(check_input(webhook, checks) if inputs is None else inputs), *outcome.findings]
    passthrough = any(f.code == "passthrough" for f in outcome.findings)
    if outcome.status is TransformStatus.OK and outcome.request and not passthrough:
        findings += check_payload(outcome.request.payload, now_ms=checks.now_ms)
    findings = [f for f in findings if f.code not in checks.ignore]
    return Result(
        transform=transform.path, sample=webhook.name, source=webhook.source,
        event_type=webhook.event_type, status=_status(outcome.status, findings, checks),
        request=outcome.request, findings=findings, console=outcome.console,
        duration_ms=outcome.duration_ms)


def skipped(transform: Transform, webhook: Webhook) -> Result:
    """A pair the transform's event filter excludes."""
    return Result(transform=transform.path, sample=webhook.name, source=webhook.source,
                  event_type=webhook.event_type, status=Status.SKIPPED, request=None,
                  findings=[], console=[], duration_ms=0.0)


def run_plan(plan: Sequence[Planned], webhooks: Sequence[Webhook], checks: Checks,
             on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Every planned transform on every webhook, in order, skipping filtered-out types."""
    results: list[Result] = []
    inputs: dict[int, list[Finding]] = {}
    for planned in plan:
        for index, webhook in enumerate(webhooks):
            if planned.handles(webhook.event_type):
                if index not in inputs:
                    inputs[index] = check_input(webhook, checks)
                result = evaluate(planned.transform, webhook, checks, inputs[index])
            else:
                result = skipped(planned.transform, webhook)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def _status(outcome: TransformStatus, findings: list[Finding], checks: Checks) -> Status:
    if outcome is TransformStatus.ERROR:
        return Status.ERROR
    failing = {Severity.ERROR, Severity.WARNING} if checks.strict else {Severity.ERROR}
    if any(f.severity in failing for f in findings):
        return Status.FAILED
    if outcome is TransformStatus.CANCELLED:
        return Status.CANCELLED
    return Status.PASSED
