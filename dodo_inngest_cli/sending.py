"""`send`: transform payloads (or take ready events), check them, then send them, or show the
exact requests of a dry run. Everything goes out through the relay."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import jsonio
from .cancel import NEVER, Cancel
from .client import Answer, EventClient, SendError, Target
from .errors import ExitCode, InputError, verdict
from .models import Webhook
from .outcomes import Outcome
from .pipeline import Checks
from .relay import (
    Batch,
    Dispatch,
    Prepared,
    Sender,
    batches,
    not_sent,
    prepare,
    prepare_event,
    send_batches,
    with_origin,
)
from .sandbox import DEFAULT_INNGEST_TRANSFORM, InngestTransform, Transform
from .sources import content_key


def from_webhooks(transform: Transform, webhooks: Sequence[Webhook], checks: Checks,
                  target: Target, inngest: InngestTransform | None = None) -> list[Prepared]:
    """Run the transform over each webhook (it sees the target as its endpoint URL)."""
    aimed = transform.with_endpoint(target.url)
    return [prepare(aimed, webhook, checks, key=content_key(webhook.payload), inngest=inngest)
            for webhook in webhooks]


def from_events(document: Any, source: str, checks: Checks, target: Target) -> list[Prepared]:
    """Ready Inngest events (an object or an array of them), each checked on its own."""
    if isinstance(document, list) and not document:
        raise InputError(f"{source}: the array holds no event",
                         hint='e.g. [{"name": "dodo/payment.succeeded", "data": {}}]')
    events = document if isinstance(document, list) else [document]
    labels = [f"{source}[{i}]" for i in range(len(events))] if isinstance(document, list) \
        else [source]
    return [prepare_event(event, key=label, source=label, target=target, checks=checks)
            for event, label in zip(events, labels, strict=True)]


def read_events_file(path: Path) -> Any:
    """Ready Inngest events from a JSON file: one object or an array of them."""
    hint = "an events file holds one event object or an array of them"
    document = jsonio.read_json_file(path, what="events file", hint=hint)
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


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One request made and Inngest's answer."""

    batch: Batch
    answer: Answer


@dataclasses.dataclass(frozen=True)
class Row:
    """One event's fate, for the table: where it came from, its name, id and outcome."""

    source: str
    name: str
    outcome: Outcome
    event_id: str = ""
    attempts: int = 0
    error: str = ""
    hint: str = ""


@dataclasses.dataclass
class SendReport:
    """Everything a send did: the verdict, the exit code and the JSON document are its own."""

    target: Target
    prepared: list[Prepared]
    planned: list[Batch]
    dispatches: list[Dispatch]
    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    dry_run: bool = False
    blocked: bool = False
    """Checks found errors and --force was not given: nothing was sent."""
    runs: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    """Function runs per accepted id, when --wait looked them up."""
    runs_error: str = ""
    """Why the runs could not be looked up (the events were sent all the same)."""
    interrupted: bool = False
    unsent: int = 0
    """Ready events not sent because the send was interrupted first."""

    def rows(self) -> list[Row]:
        """A row per event (or per delivery with no event), in the order of the inputs."""
        rows: list[Row] = []
        for dispatch in self.dispatches:
            if not dispatch.events:
                rows.append(Row(dispatch.source, "", dispatch.outcome, error=dispatch.reason))
                continue
            culprit_seen = False
            for index, event in enumerate(dispatch.events):
                event_id = dispatch.ids[index] if index < len(dispatch.ids) else ""
                outcome = Outcome.ACCEPTED if event_id else dispatch.outcome
                error, hint = ("", "") if event_id else (dispatch.reason, dispatch.hint)
                if not event_id and dispatch.outcome is Outcome.REJECTED:
                    if culprit_seen:
                        error, hint = ("not processed: an earlier event of this delivery was "
                                       "rejected", "")
                    culprit_seen = True
                rows.append(Row(dispatch.source, _name(event), outcome, event_id,
                                dispatch.attempts, error, hint))
        return rows

    def counts(self) -> dict[str, int]:
        """Rows by outcome, every outcome a send can have listed."""
        counts = {o.value: 0 for o in (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.FAILED,
                                       Outcome.CANCELLED, Outcome.ERROR, Outcome.BLOCKED,
                                       Outcome.WOULD_SEND)}
        for row in self.rows():
            counts[row.outcome.value] += 1
        return counts

    @property
    def ok(self) -> bool:
        """Nothing was rejected, failed, errored or blocked."""
        return not self.interrupted and not any(row.outcome.failing for row in self.rows())

    @property
    def exit_code(self) -> ExitCode:
        """0 when every event went through (or would), 1 otherwise, 130 when interrupted."""
        return verdict(self.ok, interrupted=self.interrupted)

    def to_json(self) -> dict[str, Any]:
        """The JSON report (secrets are masked by the writer)."""
        answered = {id(e.batch): e for e in self.exchanges}
        planned = self.planned if self.dry_run or self.blocked else \
            [e.batch for e in self.exchanges]
        requests = []
        for batch in planned:
            entry: dict[str, Any] = {
                "method": batch.method, "url": batch.url,
                "headers": {k: v for k, v in batch.headers.items()
                            if k != "x-inngest-event-id-seed"},
                "seed": batch.headers.get("x-inngest-event-id-seed", ""),
                "payload": batch.payload, "sent": id(batch) in answered}
            exchange = answered.get(id(batch))
            if exchange is not None:
                answer = exchange.answer
                entry.update(status=answer.status, ids=answer.ids, error=answer.error,
                             hint=answer.hint,
                             attempts=[{"status": a.status, "note": a.note,
                                        "duration_ms": round(a.duration_ms, 3)}
                                       for a in answer.attempts])
            requests.append(entry)
        return {
            "version": 1, "ok": self.ok, "target": self.target.url,
            "dry_run": self.dry_run, "blocked": self.blocked, "summary": self.counts(),
            "events": [{**dataclasses.asdict(row), "outcome": row.outcome.value}
                       for row in self.rows()],
            "findings": [{"source": p.source, **f.to_json()} for p in self.prepared
                         for f in p.findings],
            "stored": [{"source": p.source, "event": p.stored} for p in self.prepared
                       if p.stored is not None],
            "requests": requests, "runs": self.runs, "runs_error": self.runs_error,
            "interrupted": self.interrupted, "unsent": self.unsent,
        }


def _name(event: Any) -> str:
    name = event.get("name") if isinstance(event, dict) else None
    return name if isinstance(name, str) else ""


def send(prepared: list[Prepared], target: Target, client: EventClient | None, *,
         batch: int = 1, force: bool = False, wait_s: float = 0.0,
         cancel: Cancel = NEVER) -> SendReport:
    """Check, then send what is ready (or, without a client, plan a dry run).

    An error finding anywhere blocks the whole send unless force; with force, items whose
    checks failed are sent too."""
    dry_run = client is None
    blocked = not dry_run and not force and any(p.outcome is Outcome.ERROR for p in prepared)
    chosen = {id(p) for p in prepared if p.item is not None and (p.ready or force)}
    planned = batches([p.item for p in prepared if id(p) in chosen and p.item is not None],
                      target, max_events=batch)
    if dry_run or blocked:
        fate = Outcome.WOULD_SEND if dry_run else Outcome.BLOCKED
        dispatches = [not_sent(p, fate) if id(p) in chosen else not_sent(p) for p in prepared]
        return SendReport(target, prepared, planned, dispatches, dry_run=dry_run,
                          blocked=blocked)
    assert client is not None
    sender = Sender(client, target)
    exchanges: list[Exchange] = []
    report = SendReport(target, prepared, planned, [], exchanges)
    sent, report.interrupted = send_batches(
        planned, lambda request: sender.send(
            request, on_answer=lambda b, a: exchanges.append(Exchange(b, a))))
    for p in prepared:
        if id(p) not in chosen:
            report.dispatches.append(not_sent(p))
        elif p.item is not None and id(p.item) in sent:
            report.dispatches.append(with_origin(sent[id(p.item)], p))
        else:
            report.unsent += 1
    if wait_s > 0 and not report.interrupted:
        ids = [i for d in report.dispatches for i in d.ids if i]
        try:
            report.runs = find_runs(client, target, ids, wait_s, cancel)
        except SendError as exc:
            report.runs_error = exc.message
        except KeyboardInterrupt:  # what was sent stands, and is reported
            report.interrupted = True
            report.runs_error = "interrupted before the runs were looked up"
    return report


def find_runs(client: EventClient, target: Target, ids: Sequence[str], wait_s: float,
              cancel: Cancel = NEVER) -> dict[str, list[dict[str, Any]]]:
    """Poll the Dev Server's `GET /v1/events/{id}/runs` until each id has runs or time is up."""
    deadline = time.monotonic() + wait_s
    runs: dict[str, list[dict[str, Any]]] = {event_id: [] for event_id in ids}
    while True:
        for event_id in [i for i, found in runs.items() if not found]:
            document = client.get_json(f"{target.origin}/v1/events/{quote(event_id, safe='')}"
                                       "/runs")
            data = document.get("data") if isinstance(document, dict) else None
            runs[event_id] = [r for r in data if isinstance(r, dict)] if isinstance(data, list) \
                else []
        if all(runs.values()) or time.monotonic() >= deadline:
            return runs
        cancel.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
