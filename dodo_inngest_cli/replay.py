"""Relaying deliveries to Inngest, exactly once per delivery and target, resumably.

`Relay` turns one delivery into a sent event (transform, checks, a deterministic id, send); it
serves `listen --forward` and `replay`. `StateFile` records, append-only, what happened to each
delivery for each target (masked), so a second run sends only what is not yet confirmed.
`replay` streams deliveries through a bounded pool of workers with an optional rate limit.
"""

from __future__ import annotations

import array
import base64
import bisect
import dataclasses
import datetime as dt
import hashlib
import heapq
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .capture import Delivery, Problem, check_signature, now_iso
from .errors import InputError
from .files import open_for_append
from .forward import Forwarder, Target
from .inngest import MAX_BATCH
from .models import Status, matches
from .pipeline import Checks, evaluate
from .rules import Finding, Severity
from .sandbox import Transform


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one delivery."""

    delivery: str
    event_type: str
    status: str
    """delivered, failed, rejected, cancelled, skipped or invalid."""
    ids: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""
    attempts: int = 0
    assigned_id: bool = False
    findings: list[Finding] = dataclasses.field(default_factory=list)


def event_id_for(delivery_id: str, index: int | None) -> str:
    """A deterministic Inngest event id for a delivery without one, so Inngest de-duplicates
    repeated replays."""
    return f"dodo-{delivery_id}" if index is None else f"dodo-{delivery_id}-{index}"


def seed_for(deliveries: Sequence[Delivery], target: Target) -> str:
    """The same x-inngest-event-id-seed for the same deliveries and target on every run."""
    names = "\n".join([*(delivery.id for delivery in deliveries), target.shown])
    digest = hashlib.sha256(names.encode()).digest()[:10]
    try:
        millis = int(dt.datetime.fromisoformat(
            deliveries[0].received_at.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        millis = int(time.time() * 1000)
    return f"{millis},{base64.b64encode(digest).decode()}"


MAX_REQUEST_BYTES = 3 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Ready:
    """A transformed, checked delivery whose events are ready to send."""

    delivery: Delivery
    event_type: str
    events: list[Any]
    batch: bool
    """The transform returned an array (sent as one even when alone)."""
    method: str
    url: str
    headers: dict[str, str]
    assigned_id: bool
    findings: list[Finding]

    @property
    def size(self) -> int:
        """The events' size as sent."""
        return len(json.dumps(self.events, separators=(",", ":")).encode())

    def joins(self, other: Ready) -> bool:
        """Whether both can share one request."""
        return (self.method, self.url, self.headers) == (other.method, other.url,
                                                         other.headers)

    def outcome(self, status: str, *, ids: list[str] | None = None, reason: str = "",
                attempts: int = 0) -> Outcome:
        """What happened to this delivery."""
        return Outcome(self.delivery.id, self.event_type, status, ids or [], reason, attempts,
                       self.assigned_id, self.findings)


class Relay:
    """Transform one delivery, check it, and send it to the target."""

    def __init__(self, transform: Transform, target: Target, forwarder: Forwarder | None,
                 checks: Checks, *, assign_id: bool = True) -> None:
        self.transform = transform.with_endpoint(target.url)
        self.target = target
        self.forwarder = forwarder
        self.checks = checks
        self.assign_id = assign_id

    def process(self, delivery: Delivery) -> Outcome:
        """Transform and send (or, without a forwarder, only prepare) one delivery."""
        return self.process_group([delivery])[0]

    def prepare(self, delivery: Delivery) -> Outcome | Ready:
        """Transform and check a delivery: a final Outcome, or events Ready to send."""
        try:
            webhook = delivery.webhook()
        except InputError as exc:
            return Outcome(delivery.id, "", "rejected", reason=exc.message)
        result = evaluate(self.transform, webhook, self.checks)
        errors = [f for f in result.findings if f.severity is Severity.ERROR]
        if result.status is Status.CANCELLED:
            return Outcome(delivery.id, webhook.event_type, "cancelled", findings=result.findings)
        if result.status in (Status.ERROR, Status.FAILED) or result.request is None:
            reason = errors[0].message if errors else "warnings with --strict"
            code = errors[0].code if errors else "strict"
            return Outcome(delivery.id, webhook.event_type, "rejected",
                           reason=f"{code}: {reason}", findings=result.findings)
        payload, assigned = self._with_ids(result.request.payload, delivery.id)
        events = payload if isinstance(payload, list) else [payload]
        ready = Ready(delivery, webhook.event_type, events, isinstance(payload, list),
                      result.request.method, result.request.url, result.request.headers,
                      assigned, result.findings)
        if self.forwarder is None:
            names = ", ".join(str(e.get("name")) for e in events if isinstance(e, dict))
            return ready.outcome("skipped", reason=f"dry run: would send {names}")
        return ready

    def process_group(self, deliveries: list[Delivery], batch: int = 1) -> list[Outcome]:
        """Prepare each delivery, then send what is ready, up to `batch` deliveries a request
        (same URL, method and headers; at most 5,000 events and 3 MiB)."""
        prepared = [self.prepare(delivery) for delivery in deliveries]
        ready = [p for p in prepared if isinstance(p, Ready)]
        sent: dict[int, Outcome] = {}
        group: list[Ready] = []
        for item in ready:
            if group and (len(group) >= batch or not group[0].joins(item)
                          or sum(r.size for r in group) + item.size > MAX_REQUEST_BYTES
                          or sum(len(r.events) for r in group) + len(item.events) > MAX_BATCH):
                sent.update(self._send(group))
                group = []
            group.append(item)
        if group:
            sent.update(self._send(group))
        return [sent[id(p)] if isinstance(p, Ready) else p for p in prepared]

    def _send(self, group: list[Ready]) -> dict[int, Outcome]:
        """One request for the group; a 400 part-way re-sends what Inngest did not process."""
        assert self.forwarder is not None
        head = group[0]
        if len(group) == 1 and not head.batch:
            payload: Any = head.events[0]
        else:
            payload = [event for item in group for event in item.events]
        result = self.forwarder.send(self.target, payload, method=head.method, url=head.url,
                                     extra_headers=head.headers,
                                     seed=seed_for([r.delivery for r in group], self.target))
        outcomes: dict[int, Outcome] = {}
        position = 0
        for index, item in enumerate(group):
            ids = result.ids[position:position + len(item.events)]
            position += len(item.events)
            attempts = len(result.attempts)
            if ids and all(ids):
                outcomes[id(item)] = item.outcome("delivered", ids=ids, attempts=attempts)
            elif result.status == 400 and len(group) > 1:
                # Inngest accepted what came before this event; this one is the culprit and
                # the rest were not processed: send them again on their own request.
                outcomes[id(item)] = item.outcome("rejected", ids=[i for i in ids if i],
                                                  reason=result.error, attempts=attempts)
                if group[index + 1:]:
                    outcomes.update(self._send(group[index + 1:]))
                return outcomes
            else:
                status = "failed" if result.outcome == "failed" else "rejected"
                outcomes[id(item)] = item.outcome(status, ids=[i for i in ids if i],
                                                  reason=result.error, attempts=attempts)
        return outcomes

    def _with_ids(self, payload: Any, delivery_id: str) -> tuple[Any, bool]:
        if not self.assign_id:
            return payload, False
        if isinstance(payload, dict) and not payload.get("id"):
            return {**payload, "id": event_id_for(delivery_id, None)}, True
        if isinstance(payload, list):
            changed = [({**e, "id": event_id_for(delivery_id, i)}
                        if isinstance(e, dict) and not e.get("id") else e)
                       for i, e in enumerate(payload)]
            return changed, changed != payload
        return payload, False


class SeenSet:
    """64-bit keys in about 8 bytes each: a sorted array, plus a small set of recent keys
    merged into it now and then, so memory stays flat as a replay grows."""

    MERGE_AT = 4096

    def __init__(self) -> None:
        self.base = array.array("Q")
        self.recent: set[int] = set()

    def __contains__(self, key: int) -> bool:
        if key in self.recent:
            return True
        index = bisect.bisect_left(self.base, key)
        return index < len(self.base) and self.base[index] == key

    def add(self, key: int) -> None:
        """Remember a key."""
        if key in self:
            return
        self.recent.add(key)
        if len(self.recent) >= self.MERGE_AT:
            self.base = array.array("Q", heapq.merge(self.base, sorted(self.recent)))
            self.recent.clear()


class StateFile:
    """Per delivery and target, what a replay did: an append-only JSON Lines file.

    Each record is flushed to the operating system at once (it survives the process being
    killed) and fsync'ed in groups, at most SYNC_EVERY_S apart and on close; a power loss
    can forget the last fraction of a second, whose deliveries are then sent again and
    de-duplicated by Inngest through their deterministic ids.
    """

    SYNC_EVERY_S = 0.2

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done = SeenSet()
        self._lock = threading.Lock()
        self._synced = time.monotonic()
        if path.exists():
            self._load()
        self._handle = open_for_append(path, "state file", "--state picks another place")

    @staticmethod
    def key(delivery: str, target: str) -> int:
        """A 64-bit key for a delivery and target."""
        return int.from_bytes(hashlib.blake2b(f"{delivery}\n{target}".encode(),
                                              digest_size=8).digest(), "big")

    def _load(self) -> None:
        try:
            with self.path.open("rb") as handle:
                for raw in handle:
                    try:
                        record = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        continue  # a torn last line: that delivery was not confirmed
                    if isinstance(record, dict) and record.get("status") == "delivered":
                        self._done.add(self.key(str(record.get("delivery")),
                                                 str(record.get("target"))))
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the state file: {exc.strerror}") \
                from None

    def delivered(self, delivery: str, target: str) -> bool:
        """Whether this delivery was already confirmed for this (masked) target."""
        return self.key(delivery, target) in self._done

    def record(self, outcome: Outcome, target: str) -> None:
        """Append what happened (see the class docstring for how durably)."""
        line = json.dumps({"delivery": outcome.delivery, "target": target,
                           "status": outcome.status, "ids": outcome.ids,
                           "reason": outcome.reason, "at": now_iso()}, ensure_ascii=False)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
            if time.monotonic() - self._synced >= self.SYNC_EVERY_S:
                os.fsync(self._handle.fileno())
                self._synced = time.monotonic()
            if outcome.status == "delivered":
                self._done.add(self.key(outcome.delivery, target))

    def close(self) -> None:
        """Sync and close the file."""
        with self._lock:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()


@dataclasses.dataclass(frozen=True)
class Filters:
    """Which deliveries a replay takes."""

    events: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    ids: tuple[str, ...] = ()

    def keeps(self, delivery: Delivery) -> bool:
        """Whether the delivery passes every filter."""
        if self.ids and delivery.id not in self.ids:
            return False
        if self.events:
            try:
                event_type = json.loads(delivery.body).get("type", "")
            except (ValueError, AttributeError):
                event_type = ""
            if not matches(str(event_type), self.events):
                return False
        if self.since or self.until:
            when = delivery.event_time
            if when is None or (self.since and when < self.since) \
                    or (self.until and when >= self.until):
                return False
        return True


class RateLimiter:
    """At most `rate` starts per second, spread evenly."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next start is allowed."""
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        time.sleep(max(0.0, start - now))


@dataclasses.dataclass
class Replay:
    """One replay run: deliveries in, outcomes out, state recorded."""

    relay: Relay
    state: StateFile | None
    filters: Filters = dataclasses.field(default_factory=Filters)
    signer: Any = None
    allow_unverified: bool = False
    force: bool = False
    concurrency: int = 4
    rate: float | None = None
    batch: int = 20
    """Deliveries per request (their events sent as one array); 1 sends each alone."""
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    claimed: SeenSet = dataclasses.field(default_factory=SeenSet)
    """Deliveries this run already took (Dodo's retries are captured more than once)."""

    def screen(self, item: Delivery) -> Outcome | None:
        """An outcome decided without sending (bad signature, already done, a repeat), or
        None."""
        if self.signer is not None:
            state, reason = check_signature(self.signer, item, tolerance_s=None)
            if state != "valid" and not self.allow_unverified:
                return Outcome(item.id, "", "invalid", reason=f"signature {state}: {reason}")
        if not self.force and self.state is not None and \
                self.state.delivered(item.id, self.relay.target.shown):
            return Outcome(item.id, "", "skipped", reason="already delivered")
        key = StateFile.key(item.id, self.relay.target.shown)
        if key in self.claimed:
            return Outcome(item.id, "", "skipped",
                           reason="a repeat of an earlier delivery in the input (a Dodo retry)")
        self.claimed.add(key)
        return None

    def run(self, items: Iterable[Delivery | Problem],
            on_outcome: Callable[[Outcome], None]) -> None:
        """Process every delivery, `batch` a request, `concurrency` requests in flight;
        Ctrl-C (stop set) finishes what is in flight, then returns."""
        limiter = RateLimiter(self.rate)
        in_flight: set[Future[list[Outcome]]] = set()
        group: list[Delivery] = []
        opened = 0.0

        def report(outcomes: list[Outcome]) -> None:
            for outcome in outcomes:
                if self.state is not None and outcome.status in ("delivered", "failed",
                                                                 "rejected"):
                    self.state.record(outcome, self.relay.target.shown)
                on_outcome(outcome)

        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="replay") as pool:

            def submit() -> None:
                nonlocal group, in_flight
                while len(in_flight) >= self.concurrency * 2:
                    in_flight = _drain(in_flight, report)
                in_flight.add(pool.submit(self.relay.process_group, group, self.batch))
                group = []

            try:
                for item in items:
                    if self.stop.is_set():
                        break
                    if isinstance(item, Problem):
                        on_outcome(Outcome(item.source, "", "invalid", reason=item.message))
                        continue
                    if not self.filters.keeps(item):
                        continue
                    decided = self.screen(item)
                    if decided is not None:
                        on_outcome(decided)
                        continue
                    limiter.wait()
                    if not group:
                        opened = time.monotonic()
                    group.append(item)
                    if len(group) >= self.batch or time.monotonic() - opened > 0.25:
                        submit()
                if group and not self.stop.is_set():
                    submit()
            finally:
                while in_flight:
                    in_flight = _drain(in_flight, report)


def _drain(in_flight: set[Future[list[Outcome]]],
           report: Callable[[list[Outcome]], None]) -> set[Future[list[Outcome]]]:
    """Wait for at least one request to finish and report it; the rest are pending."""
    done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
    for future in done:
        report(future.result())
    return pending


def default_state_path(captures: list[Path]) -> Path:
    """`<first capture>.state.jsonl` beside it (or in the folder given)."""
    first = captures[0]
    if first.is_dir():
        return first / ".dodo-inngest-replay.state.jsonl"
    return first.with_name(first.name + ".state.jsonl")

