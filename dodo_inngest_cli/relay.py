"""The one outbound path: what `send`, `replay` and `listen --forward` all go through.

    webhook ─► prepare (transform, checks, ids) ─► Item ─► batches ─► Batch ─► Sender ─► Dispatch

An `Item` is one delivery's events (or one ready event), exactly as they will be sent. `batches`
groups items into HTTP requests (same URL, method and headers; at most `max_events` events,
5,000 and 3 MiB measured on the bytes actually sent) with a deterministic
`x-inngest-event-id-seed`. `Sender` makes each request and maps Inngest's ids back to the
items. A 400 part-way through a batch means Inngest accepted the events before the culprit and
processed none after it: the culprit is rejected and the items after it are sent again in a
request of their own, so one bad event never holds back the others.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import jsonio
from .cancel import NEVER, Cancel, Interrupted
from .capture import Delivery, parse_time
from .client import Answer, EventClient, Target, request_headers, url_identity
from .errors import InputError
from .inngest import MAX_BATCH, MAX_EVENT_BYTES, check_payload
from .models import Status, Webhook
from .outcomes import Outcome
from .pipeline import Checks, Expectations, evaluate
from .redaction import add_url_secrets, redact
from .rules import RULES, Finding, Severity, fails, finding
from .sandbox import InngestTransform, Transform

MAX_REQUEST_BYTES = MAX_EVENT_BYTES
"""The most a batched request may carry; a single delivery larger than this is sent alone."""


@dataclasses.dataclass(frozen=True)
class Item:
    """One delivery's events (or one ready event), exactly as they will be sent."""

    key: str
    """Its identity: the delivery's webhook-id, a content hash, or `<file>[i]`."""
    source: str
    """Where it came from, for people."""
    events: list[Any]
    array: bool
    """The payload is an array: it is sent as one even when alone."""
    method: str
    url: str
    headers: dict[str, str]
    when_ms: int | None = None
    """When it happened (the Dodo event time), for the id seed."""

    @property
    def payload(self) -> Any:
        """The payload as the transform returned it."""
        return self.events if self.array else self.events[0]

    def joins(self, other: Item) -> bool:
        """Whether both can share one request."""
        return (self.method, self.url, self.headers) == (other.method, other.url, other.headers)


@dataclasses.dataclass(frozen=True)
class Batch:
    """One HTTP request: the items it carries and its exact bytes."""

    items: list[Item]
    method: str
    url: str
    headers: dict[str, str]
    """The request's headers as sent (user agent, content type, seed, env, the transform's)."""
    payload: Any
    body: bytes

    @property
    def count(self) -> int:
        """How many events it carries."""
        return sum(len(item.events) for item in self.items)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A webhook after the transform and the checks: the item to send, or why there is none."""

    key: str
    source: str
    event_type: str
    status: Status
    findings: list[Finding]
    item: Item | None
    """What would be sent; None when the delivery is cancelled or the transform failed."""
    stored: Any = None
    """The event Inngest would store, when an Inngest webhook transform was applied."""
    assigned_id: bool = False
    """Events without an id were given one derived from the delivery."""

    @property
    def ready(self) -> bool:
        """Its item passed every check: it may be sent."""
        return self.item is not None and self.status is Status.PASSED

    @property
    def outcome(self) -> Outcome | None:
        """CANCELLED or ERROR when it must not be sent; None when it is ready."""
        if self.ready:
            return None
        return Outcome.CANCELLED if self.status is Status.CANCELLED else Outcome.ERROR

    @property
    def reason(self) -> str:
        """Why it is not sent: its first error finding."""
        errors = [f for f in self.findings if f.severity is Severity.ERROR]
        if errors:
            return f"{errors[0].code}: {errors[0].message}"
        return "warnings fail with --strict" if self.status is Status.FAILED else ""


@dataclasses.dataclass(frozen=True)
class Dispatch:
    """What happened to one delivery (or ready event): the one record every command reports."""

    key: str
    source: str
    event_type: str
    outcome: Outcome
    events: list[Any] = dataclasses.field(default_factory=list)
    ids: list[str] = dataclasses.field(default_factory=list)
    """Inngest's id for each event ("" for one not accepted)."""
    reason: str = ""
    hint: str = ""
    attempts: int = 0
    assigned_id: bool = False


def event_id_for(key: str, index: int | None) -> str:
    """A deterministic Inngest event id for an event that has none, so Inngest de-duplicates
    repeated replays of the same delivery."""
    return f"dodo-{key}" if index is None else f"dodo-{key}-{index}"


def prepare(transform: Transform, webhook: Webhook, checks: Checks, *, key: str,
            assign_id: bool = False, inngest: InngestTransform | None = None,
            expect: Expectations | None = None) -> Prepared:
    """Run the transform and the checks on one webhook; the item to send, if any.

    With an Inngest webhook transform, the event it stores is what is checked against the
    contract (what Dodo sends is then a webhook body for Inngest, not an event). Expectations
    (the project's functions, for a dry run) are judged like the other checks."""
    result = evaluate(transform, webhook, checks, expect=expect)
    findings, status, request, stored = result.findings, result.status, result.request, None
    if inngest is not None and request is not None and status in (Status.PASSED,
                                                                  Status.FAILED):
        # What Dodo sends is a webhook body for Inngest, not an event: the event contract
        # (and passthrough) judge what the Inngest transform makes of it instead.
        kept = [f for f in findings if f.code != "passthrough"
                and getattr(RULES.get(f.code), "group", "") != "inngest"]
        applied = inngest.apply(jsonio.dumps(request.payload),
                                {"content-type": "application/json", **request.headers},
                                request.url)
        stored = applied.request.payload if applied.request is not None else None
        findings = [*kept, *applied.findings,
                    *(check_payload(stored, now_ms=checks.now_ms)
                      if applied.request is not None else [])]
        findings = [f for f in findings if f.code not in checks.ignore]
        status = Status.ERROR if applied.request is None else (
            Status.FAILED if fails(findings, strict=checks.strict) else Status.PASSED)
    if request is not None and url_identity(request.url) != url_identity(transform.endpoint_url):
        add_url_secrets(request.url)  # another key, perhaps: masked wherever it is shown
        findings = [*findings, finding(
            "url-offsite", f"the handler sends this delivery to {redact(request.url)}, not to "
                           f"the target {redact(transform.endpoint_url)}",
            hint="dodo-inngest sends only to the target you chose; leave webhook.url alone")]
        status = Status.ERROR
    item = None
    assigned = False
    if status in (Status.PASSED, Status.FAILED) and request is not None:
        payload, assigned = _with_ids(request.payload, key) if assign_id else (request.payload,
                                                                               False)
        item = Item(key, webhook.source, payload if isinstance(payload, list) else [payload],
                    isinstance(payload, list), request.method, request.url, request.headers,
                    _dodo_time_ms(webhook))
    return Prepared(key, webhook.source, webhook.event_type, status, findings, item, stored,
                    assigned)


def prepare_event(event: Any, *, key: str, source: str, target: Target,
                  checks: Checks) -> Prepared:
    """A ready Inngest event (from an events file), checked against the contract."""
    findings = [f for f in check_payload(event, now_ms=checks.now_ms)
                if f.code not in checks.ignore]
    status = Status.FAILED if fails(findings, strict=checks.strict) else Status.PASSED
    ts = event.get("ts") if isinstance(event, dict) else None
    item = Item(key, source, [event], False, "POST", target.url, {},
                ts if isinstance(ts, int) and not isinstance(ts, bool) else None)
    return Prepared(key, source, "", status, findings, item)


def _with_ids(payload: Any, key: str) -> tuple[Any, bool]:
    if isinstance(payload, dict) and not payload.get("id"):
        return {**payload, "id": event_id_for(key, None)}, True
    if isinstance(payload, list):
        changed = [({**e, "id": event_id_for(key, i)} if isinstance(e, dict) and not e.get("id")
                    else e) for i, e in enumerate(payload)]
        return changed, changed != payload
    return payload, False


def _dodo_time_ms(webhook: Webhook) -> int | None:
    stamp = webhook.payload.get("timestamp") if isinstance(webhook.payload, dict) else None
    try:
        return int(parse_time(stamp).timestamp() * 1000) if isinstance(stamp, str) else None
    except (OverflowError, ValueError):
        return None


def seed_for(items: Sequence[Item], target: Target) -> str:
    """The `x-inngest-event-id-seed` of a request: the same items to the same target give the
    same seed on every run (and every retry), so Inngest mints the same ids."""
    names = "\n".join([*(item.key for item in items), target.identity])
    digest = hashlib.sha256(names.encode("utf-8", "surrogatepass")).digest()[:10]
    millis = next((item.when_ms for item in items if item.when_ms is not None), None)
    if millis is None or not 0 <= millis < 2**48:
        millis = int(time.time() * 1000)
    return f"{millis},{base64.b64encode(digest).decode()}"


def batches(items: Iterable[Item], target: Target, *, max_events: int = 1) -> list[Batch]:
    """Group items into requests, in order: items that share URL, method and headers, up to
    max_events events (never past 5,000) and 3 MiB as sent. An item is never split; one that
    alone exceeds max_events is sent whole. With max_events above 1 every request is an
    array."""
    limit = min(max(max_events, 1), MAX_BATCH)
    out: list[Batch] = []
    group: list[Item] = []
    size = count = 0
    for item in items:
        item_size = len(jsonio.encode(item.events)) - 2  # its events, without the brackets
        # the body: "[" + the items, a comma between each + "]"; size counts those commas
        if group and (not group[0].joins(item) or count + len(item.events) > limit
                      or size + item_size + 2 > MAX_REQUEST_BYTES):
            out.append(make_batch(group, target, array=limit > 1))
            group, size, count = [], 0, 0
        group.append(item)
        size += item_size + 1
        count += len(item.events)
    if group:
        out.append(make_batch(group, target, array=limit > 1))
    return out


def make_batch(items: list[Item], target: Target, *, array: bool) -> Batch:
    """One request for the items: an array when batching, or when the transform returned one;
    a lone event otherwise, as Dodo sends it."""
    head = items[0]
    payload: Any = [e for i in items for e in i.events] if array or len(items) > 1 \
        else head.payload
    headers = request_headers(target, seed_for(items, target), head.headers)
    return Batch(items, head.method, head.url, headers, payload, jsonio.encode(payload))


class Sender:
    """Makes requests to one target and says what happened to each item."""

    def __init__(self, client: EventClient, target: Target) -> None:
        self.client = client
        self.target = target

    def send(self, batch: Batch, on_answer: Callable[[Batch, Answer], None] | None = None
             ) -> list[tuple[Item, Dispatch]]:
        """Send one batch: each item with what happened to it. A 400 part-way rejects the
        culprit and sends the items after it again, in a request of their own (as often as
        it takes: a queue of requests, not a recursion as deep as the batch is long)."""
        out: list[tuple[Item, Dispatch]] = []
        pending = [batch]
        while pending:
            current = pending.pop(0)
            answer = self.client.post(self.target, url=current.url, method=current.method,
                                      body=current.body, count=current.count,
                                      headers=current.headers)
            if on_answer is not None:
                on_answer(current, answer)
            position = 0
            for index, item in enumerate(current.items):
                ids = answer.ids[position:position + len(item.events)]
                position += len(item.events)
                if ids and all(ids):
                    out.append((item, _dispatch(item, Outcome.ACCEPTED, ids, answer)))
                    continue
                outcome = Outcome.REJECTED if answer.refused else Outcome.FAILED
                out.append((item, _dispatch(item, outcome, ids, answer, failed=True)))
                rest = current.items[index + 1:]
                if answer.status == 400 and rest:
                    pending[:0] = batches(rest, self.target, max_events=MAX_BATCH)
                    break
        return out


def send_batches(planned: Sequence[Batch],
                 send: Callable[[Batch], list[tuple[Item, Dispatch]]]
                 ) -> tuple[dict[int, Dispatch], bool]:
    """Send each request in turn: what happened to each item sent (by id(item)), and whether
    a stop (Ctrl-C) came first."""
    sent: dict[int, Dispatch] = {}
    try:
        for request in planned:
            sent.update((id(item), dispatch) for item, dispatch in send(request))
    except KeyboardInterrupt:
        return sent, True
    return sent, False


def _dispatch(item: Item, outcome: Outcome, ids: list[str], answer: Answer, *,
              failed: bool = False) -> Dispatch:
    return Dispatch(item.key, item.source, "", outcome, item.events, ids,
                    answer.error if failed else "", answer.hint if failed else "",
                    len(answer.attempts))


def not_sent(prepared: Prepared, outcome: Outcome | None = None, reason: str = "") -> Dispatch:
    """The record of a delivery that is not sent (cancelled, an error, blocked, a dry run)."""
    chosen = outcome or prepared.outcome or Outcome.WOULD_SEND
    events = prepared.item.events if prepared.item is not None else []
    return Dispatch(prepared.key, prepared.source, prepared.event_type, chosen, events,
                    reason=reason or (prepared.reason if chosen is Outcome.ERROR else ""),
                    assigned_id=prepared.assigned_id)


def with_origin(dispatch: Dispatch, prepared: Prepared) -> Dispatch:
    """A sent item's record with what its preparation knew (event type, assigned ids)."""
    return dataclasses.replace(dispatch, event_type=prepared.event_type,
                               assigned_id=prepared.assigned_id)


class Relay:
    """Deliveries through the transform and the checks to one target: what replay's workers
    and `listen --forward` run. Without a client it is a dry run: requests are planned and
    handed to on_batch, nothing is sent."""

    def __init__(self, transform: Transform, target: Target, checks: Checks,
                 client: EventClient | None, *, assign_id: bool = True, batch: int = 1,
                 cancel: Cancel = NEVER, expect: Expectations | None = None) -> None:
        self.transform = transform.with_endpoint(target.url)
        self.expect = expect
        self.target = target
        self.checks = checks
        self.sender = Sender(client, target) if client is not None else None
        self.assign_id = assign_id
        self.batch = batch
        self.cancel = cancel

    def _prepare(self, delivery: Delivery) -> Prepared | Dispatch:
        """One delivery prepared; what goes wrong with it stays with it (a bug included: a
        long replay records what it knows and goes on, rather than losing the run)."""
        try:
            webhook = delivery.webhook()
        except InputError as exc:  # a body that is not a Dodo object: unreadable
            return Dispatch(delivery.id, delivery.source, "", Outcome.INVALID, reason=exc.message)
        try:
            return prepare(self.transform, webhook, self.checks, key=delivery.id,
                           assign_id=self.assign_id, expect=self.expect)
        except Exception as exc:  # reported as this delivery's error
            return Dispatch(delivery.id, delivery.source, webhook.event_type, Outcome.ERROR,
                            reason=f"internal error: {type(exc).__name__}: {exc} (a bug in "
                                   "dodo-inngest; nothing was sent)")

    def _send(self, request: Batch) -> list[tuple[Item, Dispatch]]:
        """Send one request; an unexpected failure fails its items, not the run."""
        assert self.sender is not None
        try:
            return self.sender.send(request)
        except Exception as exc:  # reported as these deliveries' failure
            reason = f"internal error: {type(exc).__name__}: {exc} (a bug in dodo-inngest)"
            return [(item, Dispatch(item.key, item.source, "", Outcome.FAILED, item.events,
                                    reason=reason)) for item in request.items]

    def __call__(self, delivery: Delivery) -> Dispatch:
        """Relay one delivery; Interrupted if a stop came before it was settled."""
        settled = self.process([delivery])
        if not settled:
            raise Interrupted
        return settled[0]

    def process(self, deliveries: list[Delivery],
                on_batch: Callable[[Batch], None] | None = None) -> list[Dispatch]:
        """Prepare each delivery, then send what is ready, `batch` events a request."""
        prepared: list[Prepared | Dispatch] = []
        for delivery in deliveries:
            self.cancel.check()
            prepared.append(self._prepare(delivery))
        ready = [p.item for p in prepared if isinstance(p, Prepared) and p.ready and p.item]
        planned = batches(ready, self.target, max_events=self.batch)
        sent: dict[int, Dispatch] = {}
        if self.sender is None:
            for request in planned:
                if on_batch is not None:
                    on_batch(request)
        else:  # a stop: what was sent is reported; the rest stays unsent, unrecorded
            sent, _ = send_batches(planned, self._send)
        out = []
        for p in prepared:
            if isinstance(p, Dispatch):
                out.append(p)
            elif not p.ready or p.item is None:
                out.append(not_sent(p))
            elif self.sender is None:
                out.append(not_sent(p, Outcome.WOULD_SEND))
            elif id(p.item) in sent:
                out.append(with_origin(sent[id(p.item)], p))
        return out
