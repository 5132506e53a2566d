"""Relaying deliveries to Inngest, exactly once per delivery and target, resumably.

`Relay` turns one delivery into a sent event (transform, checks, a deterministic id, send); it
serves `listen --forward` and `replay`. `StateFile` records, append-only, what happened to each
delivery for each target (masked), so a second run sends only what is not yet confirmed.
`replay` streams deliveries through a bounded pool of workers with an optional rate limit.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .capture import Delivery, Problem, check_signature, now_iso
from .errors import InputError
from .forward import Forwarder, Target
from .models import Status, matches
from .pipeline import Checks, evaluate
from .rules import Finding, Severity
from .sandbox import Transform

OUTCOMES = ("delivered", "failed", "rejected", "cancelled", "skipped", "invalid")


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


def seed_for(delivery: Delivery, target: Target) -> str:
    """The same x-inngest-event-id-seed for a delivery and target on every run."""
    digest = hashlib.sha256(f"{delivery.id}\n{target.shown}".encode()).digest()[:10]
    try:
        millis = int(dt.datetime.fromisoformat(delivery.received_at.replace("Z", "+00:00"))
                     .timestamp() * 1000)
    except ValueError:
        millis = int(time.time() * 1000)
    return f"{millis},{base64.b64encode(digest).decode()}"


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
        if self.forwarder is None:
            names = [e.get("name") for e in (payload if isinstance(payload, list) else [payload])
                     if isinstance(e, dict)]
            return Outcome(delivery.id, webhook.event_type, "skipped",
                           reason=f"dry run: would send {', '.join(map(str, names))}",
                           assigned_id=assigned, findings=result.findings)
        sent = self.forwarder.send(self.target, payload, method=result.request.method,
                                   url=result.request.url,
                                   extra_headers=result.request.headers,
                                   seed=seed_for(delivery, self.target))
        status = "delivered" if sent.ok else ("failed" if sent.outcome == "failed"
                                               else "rejected")
        return Outcome(delivery.id, webhook.event_type, status, [i for i in sent.ids if i],
                       "" if sent.ok else sent.error, len(sent.attempts), assigned,
                       result.findings)

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


class StateFile:
    """Per delivery and target, what a replay did: an append-only JSON Lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done: set[int] = set()
        self._lock = threading.Lock()
        if path.exists():
            self._load()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot open the state file: {exc.strerror}",
                             hint="--state picks another place") from None

    @staticmethod
    def _key(delivery: str, target: str) -> int:
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
                        self._done.add(self._key(str(record.get("delivery")),
                                                 str(record.get("target"))))
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the state file: {exc.strerror}") \
                from None

    def delivered(self, delivery: str, target: str) -> bool:
        """Whether this delivery was already confirmed for this (masked) target."""
        return self._key(delivery, target) in self._done

    def record(self, outcome: Outcome, target: str) -> None:
        """Append what happened, durably, before the next delivery counts it as done."""
        line = json.dumps({"delivery": outcome.delivery, "target": target,
                           "status": outcome.status, "ids": outcome.ids,
                           "reason": outcome.reason, "at": now_iso()}, ensure_ascii=False)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
            if outcome.status == "delivered":
                self._done.add(self._key(outcome.delivery, target))

    def close(self) -> None:
        """Close the file."""
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
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def screen(self, item: Delivery) -> Outcome | None:
        """An outcome decided without sending (bad signature, already done), or None."""
        if self.signer is not None:
            state, reason = check_signature(self.signer, item, tolerance_s=None)
            if state != "valid" and not self.allow_unverified:
                return Outcome(item.id, "", "invalid", reason=f"signature {state}: {reason}")
        if not self.force and self.state is not None and \
                self.state.delivered(item.id, self.relay.target.shown):
            return Outcome(item.id, "", "skipped", reason="already delivered")
        return None

    def run(self, items: Iterable[Delivery | Problem],
            on_outcome: Callable[[Outcome], None]) -> None:
        """Process every delivery; Ctrl-C (stop set) finishes what is in flight, then returns."""
        limiter = RateLimiter(self.rate)
        in_flight: set[Future[Outcome]] = set()
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="replay") as pool:
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
                    while len(in_flight) >= self.concurrency * 2:
                        in_flight = _drain(in_flight, self._finish, on_outcome)
                    limiter.wait()
                    in_flight.add(pool.submit(self.relay.process, item))
            finally:
                while in_flight:
                    in_flight = _drain(in_flight, self._finish, on_outcome)

    def _finish(self, outcome: Outcome) -> None:
        if self.state is not None and outcome.status in ("delivered", "failed", "rejected"):
            self.state.record(outcome, self.relay.target.shown)


def _drain(in_flight: set[Future[Outcome]], finish: Callable[[Outcome], None],
           on_outcome: Callable[[Outcome], None]) -> set[Future[Outcome]]:
    """Wait for at least one request to finish; record and report it; the rest are pending."""
    done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
    for future in done:
        outcome = future.result()
        finish(outcome)
        on_outcome(outcome)
    return pending


def default_state_path(captures: list[Path]) -> Path:
    """`<first capture>.state.jsonl` beside it (or in the folder given)."""
    first = captures[0]
    if first.is_dir():
        return first / ".dodo-inngest-replay.state.jsonl"
    return first.with_name(first.name + ".state.jsonl")

