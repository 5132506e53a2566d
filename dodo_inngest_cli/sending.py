"""`send`: prepare events (through the transform, or ready-made), check them, batch and send."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .forward import USER_AGENT, Forwarder, SendError, SendResult, Target, id_seed
from .inngest import MAX_BATCH, MAX_EVENT_BYTES, check_payload
from .masking import mask_url
from .models import OutgoingRequest, Status, Webhook
from .pipeline import Checks, evaluate
from .rules import Finding, Severity
from .sandbox import DEFAULT_INNGEST_TRANSFORM, InngestTransform, Transform


@dataclasses.dataclass(frozen=True)
class Prepared:
    """One thing to send: a transformed delivery, or one event from an events file."""

    source: str
    status: Status
    request: OutgoingRequest | None
    """What goes over the wire (None when cancelled or when the transform failed)."""
    findings: list[Finding]
    stored: Any = None
    """The event Inngest would store, when an Inngest-side transform was given."""

    @property
    def events(self) -> list[Any]:
        """The events this request carries, as Inngest will read them."""
        shown = self.stored if self.stored is not None else (
            self.request.payload if self.request else None)
        if shown is None:
            return []
        return shown if isinstance(shown, list) else [shown]

    @property
    def blocking(self) -> bool:
        """An error stops the send unless forced."""
        return self.status in (Status.FAILED, Status.ERROR)


@dataclasses.dataclass(frozen=True)
class Request:
    """One HTTP request to make (or, in a dry run, to show)."""

    items: list[Prepared]
    method: str
    url: str
    headers: dict[str, str]
    payload: Any

    @property
    def body(self) -> str:
        """The exact body sent."""
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class Sent:
    """A request and Inngest's answer (None in a dry run)."""

    request: Request
    result: SendResult | None
    runs: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    """Function runs per accepted id, when --wait looked them up."""
    runs_error: str = ""
    """Why the runs could not be looked up (the events were sent all the same)."""


def from_samples(transform: Transform, webhooks: Sequence[Webhook], checks: Checks,
                 target: Target, inngest: InngestTransform | None = None) -> list[Prepared]:
    """Run the transform over each webhook (it sees the target as its endpoint URL)."""
    aimed = transform.with_endpoint(target.url)
    prepared: list[Prepared] = []
    for webhook in webhooks:
        result = evaluate(aimed, webhook, checks)
        if inngest is None or result.request is None or result.status is not Status.PASSED:
            prepared.append(Prepared(webhook.source, result.status, result.request,
                                     result.findings))
            continue
        request = result.request
        body = json.dumps(request.payload, separators=(",", ":"), ensure_ascii=False)
        stored = inngest.apply(body, {"content-type": "application/json", **request.headers},
                               request.url)
        findings = [f for f in result.findings if f.severity is not Severity.ERROR]
        findings = [*findings, *stored.findings]
        if stored.request is not None:
            findings += check_payload(stored.request.payload, now_ms=checks.now_ms)
        findings = [f for f in findings if f.code not in checks.ignore]
        prepared.append(Prepared(webhook.source, _status(findings, checks, stored.request),
                                 request, findings,
                                 stored.request.payload if stored.request else None))
    return prepared


def from_events(document: Any, source: str, checks: Checks, target: Target) -> list[Prepared]:
    """Ready Inngest events (an object or an array), each checked on its own."""
    events = document if isinstance(document, list) else [document]
    prepared = []
    for index, event in enumerate(events):
        label = f"{source}[{index}]" if isinstance(document, list) else source
        findings = [f for f in check_payload(event, now_ms=checks.now_ms)
                    if f.code not in checks.ignore]
        request = OutgoingRequest("POST", target.url, {}, event)
        prepared.append(Prepared(label, _status(findings, checks, request), request, findings))
    if isinstance(document, list) and not events:
        findings = check_payload(document, now_ms=checks.now_ms)
        prepared.append(Prepared(source, Status.FAILED, None, findings))
    return prepared


def _status(findings: list[Finding], checks: Checks, request: OutgoingRequest | None) -> Status:
    if request is None:
        return Status.ERROR
    failing = {Severity.ERROR, Severity.WARNING} if checks.strict else {Severity.ERROR}
    return Status.FAILED if any(f.severity in failing for f in findings) else Status.PASSED


def requests(prepared: Sequence[Prepared], *, batch: int = 1) -> list[Request]:
    """Group what can be sent into requests: up to `batch` single events per array, never
    mixing URLs, methods or headers, and never past 5,000 events or 3 MiB."""
    sendable = [p for p in prepared if p.request is not None and p.status is not Status.CANCELLED]
    out: list[Request] = []
    group: list[Prepared] = []
    size = 0
    limit = min(max(batch, 1), MAX_BATCH)

    def flush() -> None:
        nonlocal group, size
        if group:
            first = group[0].request
            assert first is not None
            payload: Any = [p.request.payload for p in group if p.request] \
                if limit > 1 else first.payload
            out.append(Request(group, first.method, first.url, first.headers, payload))
        group, size = [], 0

    for item in sendable:
        request = item.request
        assert request is not None
        batchable = limit > 1 and isinstance(request.payload, dict)
        if not batchable:
            flush()
            out.append(Request([item], request.method, request.url, request.headers,
                               request.payload))
            continue
        item_size = len(json.dumps(request.payload, separators=(",", ":")).encode())
        head = group[0].request if group else None
        if head is not None and ((head.method, head.url, head.headers)
                                 != (request.method, request.url, request.headers)
                                 or len(group) >= limit or size + item_size > MAX_EVENT_BYTES):
            flush()
        group.append(item)
        size += item_size
    flush()
    return out


def send(planned: Sequence[Request], forwarder: Forwarder, target: Target, *,
         wait_s: float = 0.0) -> list[Sent]:
    """Make each request; with wait_s, look up the function runs of accepted events."""
    sent = []
    for request in planned:
        result = forwarder.send(target, request.payload, method=request.method,
                                url=request.url, extra_headers=request.headers)
        runs: dict[str, list[dict[str, Any]]] = {}
        runs_error = ""
        if wait_s > 0:
            try:
                runs = find_runs(forwarder, target, [i for i in result.ids if i], wait_s)
            except SendError as exc:
                runs_error = exc.message
        sent.append(Sent(request, result, runs, runs_error))
    return sent


def find_runs(forwarder: Forwarder, target: Target, ids: Sequence[str],
              wait_s: float) -> dict[str, list[dict[str, Any]]]:
    """Poll the Dev Server's `GET /v1/events/{id}/runs` until each id has runs or time is up."""
    deadline = time.monotonic() + wait_s
    runs: dict[str, list[dict[str, Any]]] = {event_id: [] for event_id in ids}
    while True:
        for event_id in [i for i, found in runs.items() if not found]:
            document = forwarder.get_json(f"{target.origin}/v1/events/{event_id}/runs")
            data = document.get("data") if isinstance(document, dict) else None
            runs[event_id] = [r for r in data if isinstance(r, dict)] if isinstance(data, list) \
                else []
        if all(runs.values()) or time.monotonic() >= deadline:
            return runs
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def dry_run_headers(forwarder: Forwarder, target: Target, request: Request) -> dict[str, str]:
    """The headers a real send would carry (the seed is made fresh per request)."""
    return {"user-agent": USER_AGENT, **forwarder.headers(target, id_seed(), request.headers)}



@dataclasses.dataclass(frozen=True)
class Row:
    """One event's fate: where it came from, its name, Inngest's id, and what happened."""

    source: str
    name: str
    status: str
    """accepted, rejected, failed, cancelled, error, blocked or dry-run."""
    event_id: str = ""
    attempts: int = 0
    error: str = ""
    hint: str = ""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Everything a send did, for the report and the exit code."""

    prepared: list[Prepared]
    planned: list[Request]
    sent: list[Sent]
    dry_run: bool
    blocked: bool
    """Checks found errors and --force was not given: nothing was sent."""

    def rows(self) -> list[Row]:
        """A row per event, in the order of the inputs."""
        fate: dict[int, list[Row]] = {}
        answers: list[Sent | None] = [*self.sent] or [None] * len(self.planned)
        for request, sent in zip(self.planned, answers, strict=False):
            position = 0
            culprit_seen = False
            for item in request.items:
                made: list[Row] = []
                for event in item.events:
                    name = _name(event)
                    if sent is None or sent.result is None:
                        status = "blocked" if self.blocked else "dry-run"
                        made.append(Row(item.source, name, status))
                        continue
                    result = sent.result
                    event_id = result.ids[position] if position < len(result.ids) else ""
                    status = "accepted" if event_id else (
                        "failed" if result.outcome == "failed" else "rejected")
                    error, hint = ("", "") if event_id else (result.error, result.hint)
                    if not event_id and result.outcome == "partial":
                        if culprit_seen:
                            error, hint = ("not processed: an earlier event of this batch was "
                                           "rejected", "send it again once that one is fixed")
                        culprit_seen = True
                    made.append(Row(item.source, name, status, event_id, len(result.attempts),
                                    error, hint))
                    position += 1
                fate[id(item)] = made
        rows: list[Row] = []
        for item in self.prepared:
            if id(item) in fate:
                rows += fate[id(item)]
            elif item.status is Status.CANCELLED:
                rows.append(Row(item.source, "", "cancelled"))
            else:
                rows.append(Row(item.source, "", "error",
                                error="the transform failed; nothing to send"))
        return rows

    def summary(self) -> dict[str, int]:
        """Counts of rows by status."""
        counts = {status: 0 for status in ("accepted", "rejected", "failed", "cancelled",
                                           "error", "blocked", "dry-run")}
        for row in self.rows():
            counts[row.status] += 1
        return counts

    @property
    def ok(self) -> bool:
        """Nothing was rejected, failed, errored or blocked."""
        counts = self.summary()
        return not (counts["rejected"] or counts["failed"] or counts["error"]
                    or counts["blocked"] or (self.dry_run and any(
                        p.blocking for p in self.prepared)))


def _name(event: Any) -> str:
    return event.get("name", "") if isinstance(event, dict) and \
        isinstance(event.get("name"), str) else ""


def send_json(outcome: Outcome, target: Target, forwarder: Forwarder) -> dict[str, Any]:
    """The JSON report of a send, every URL masked."""
    requests_json = []
    for index, request in enumerate(outcome.planned):
        sent = outcome.sent[index] if index < len(outcome.sent) else None
        entry: dict[str, Any] = {
            "method": request.method, "url": mask_url(request.url),
            "headers": {k: v for k, v in dry_run_headers(forwarder, target, request).items()
                        if k != "x-inngest-event-id-seed"},
            "payload": request.payload, "sent": sent is not None}
        if sent is not None and sent.result is not None:
            result = sent.result
            entry.update(status=result.status, outcome=result.outcome, ids=result.ids,
                         error=mask_url(result.error), hint=result.hint,
                         attempts=[{"status": a.status, "note": a.note,
                                    "duration_ms": round(a.duration_ms, 3)}
                                   for a in result.attempts], runs=sent.runs,
                         runs_error=mask_url(sent.runs_error))
        requests_json.append(entry)
    return {
        "version": 1, "ok": outcome.ok, "target": target.shown, "dry_run": outcome.dry_run,
        "blocked": outcome.blocked, "summary": outcome.summary(),
        "events": [dataclasses.asdict(row) for row in outcome.rows()],
        "findings": [{"source": p.source, **f.to_json()} for p in outcome.prepared
                     for f in p.findings],
        "stored": [{"source": p.source, "event": p.stored} for p in outcome.prepared
                   if p.stored is not None],
        "requests": requests_json,
    }


def read_events_file(path: Path) -> Any:
    """Ready Inngest events from a JSON file: one object or an array of them."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") \
            from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
                         hint="an events file holds one event object or an array of them") \
            from None
    if not isinstance(document, (dict, list)):
        raise InputError(f"{path}: not an event object or an array of them",
                         hint='e.g. {"name": "dodo/payment.succeeded", "data": {}}')
    return document


def inngest_transform(spec: str | None) -> InngestTransform | None:
    """The Inngest webhook transform `--inngest-transform` names: a file, or `default`."""
    if not spec:
        return None
    if spec == "default":
        return InngestTransform(DEFAULT_INNGEST_TRANSFORM, "<inngest default transform>")
    return InngestTransform.from_file(Path(spec))
