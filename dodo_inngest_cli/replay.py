"""Replaying deliveries to Inngest, exactly once per delivery and target, resumably.

`Replay` streams deliveries (captures, payload files) through the relay with a bounded pool of
workers and an optional rate limit. `StateFile` records, append-only, what happened to each
delivery for each target, so a second run sends only what is not yet accepted. A target is
identified by everything that makes it a different destination (origin, the path with its key,
`x-inngest-env`), stored as a keyed hash: the file never holds the key, and two keys that mask
alike are two targets. One process at a time holds a state file.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import dataclasses
import datetime as dt
import getpass
import hashlib
import heapq
import hmac
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, BinaryIO

from .cancel import NEVER, Cancel
from .capture import READABLE_SUFFIXES, Delivery, Problem, check_signature, now_iso
from .client import EventClient, Target
from .errors import ExitCode, InputError, verdict
from .files import ends_with_newline, make_folder_for, open_for_append
from .models import event_type_of, matches
from .outcomes import Outcome
from .pipeline import Checks, Expectations
from .redaction import redact
from .relay import Batch, Dispatch, Relay
from .sandbox import Transform

STATE_KIND = "dodo-inngest replay state"
STATE_VERSION = 2
MAX_STATE_LINE = 1024 * 1024
"""A record holds a delivery's ids (at most 5,000 events, about 150 KiB); a longer line is
garbage and is skipped without being read whole."""
IN_FLIGHT_GRACE_S = 2.0
"""After Ctrl-C, how long requests already sent get to answer and be recorded."""
RECORDED = frozenset({Outcome.ACCEPTED, Outcome.REJECTED, Outcome.FAILED, Outcome.ERROR})


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


def _key(delivery: str, target: str) -> int:
    """A 64-bit key for a delivery and a target's hash."""
    text = f"{delivery}\n{target}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


class StateFile:
    """Per delivery and target, what a replay did: an append-only JSON Lines file.

    The first line names the format and holds the salt of the target hashes. Each record is
    flushed to the operating system at once (it survives the process being killed) and
    fsync'ed in groups, at most SYNC_EVERY_S apart and on close; a power loss can forget the
    last fraction of a second, whose deliveries are then sent again and de-duplicated by
    Inngest through their deterministic ids. A line torn by a crash is ended before anything
    is appended; unreadable lines are counted and reported, never silently trusted.
    """

    SYNC_EVERY_S = 0.2

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done = SeenSet()
        self._lock = threading.Lock()
        self._synced = time.monotonic()
        self.problems: list[str] = []
        """What was wrong with the file as found (torn or unreadable lines)."""
        self._file_lock = _hold(path)
        try:
            self.salt = self._load() if path.exists() and path.stat().st_size else None
            self._handle = self._open()
        except BaseException:
            self._release()
            raise

    def target_hash(self, target: Target) -> str:
        """The keyed hash that stands for a target in this file."""
        assert self.salt is not None
        return hmac.new(self.salt, target.identity.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()[:32]

    def accepted(self, delivery: str, target: str) -> bool:
        """Whether this target already accepted this delivery."""
        return _key(delivery, target) in self._done

    def record(self, dispatch: Dispatch, target: str) -> None:
        """Append what happened (see the class docstring for how durably)."""
        # masked as a whole: a server may echo the key anywhere, in its ids too
        line = redact(json.dumps({"delivery": dispatch.key, "target": target,
                                  "outcome": dispatch.outcome.value, "ids": dispatch.ids,
                                  "reason": redact(dispatch.reason)[:1000], "at": now_iso()}))
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
            if time.monotonic() - self._synced >= self.SYNC_EVERY_S:
                os.fsync(self._handle.fileno())
                self._synced = time.monotonic()
            if dispatch.outcome is Outcome.ACCEPTED:
                self._done.add(_key(dispatch.key, target))

    def close(self) -> None:
        """Sync and close the file, and let another run have it."""
        try:
            with self._lock:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
        finally:
            self._release()

    def _release(self) -> None:
        """Forget who held the file, then let another run have it."""
        with contextlib.suppress(OSError):
            _owner_path(self.path).unlink(missing_ok=True)
        self._file_lock.release()

    def _open(self) -> Any:
        hint = "--state picks another place"
        handle = open_for_append(self.path, "state file", hint)
        try:
            if self.salt is None:
                self.salt = secrets.token_bytes(16)
                handle.write(json.dumps({"kind": STATE_KIND, "v": STATE_VERSION,
                                         "salt": self.salt.hex()}) + "\n")
            elif not ends_with_newline(self.path):
                handle.write("\n")  # a crash tore the last line: end it, do not extend it
                self.problems.append("the last line was torn (a crash mid-write); it is "
                                     "ended and ignored")
            handle.flush()
        except OSError as exc:
            handle.close()
            raise InputError(f"{self.path}: cannot write the state file: {exc.strerror}",
                             hint=hint) from None
        return handle

    def _load(self) -> bytes:
        """Read the records; the salt from the header."""
        try:
            with self.path.open("rb") as handle:
                salt = self._header(handle)
                number = 1
                while True:
                    raw, whole = _read_line(handle)
                    if not raw:
                        break
                    number += 1
                    self._take(raw, whole, number)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the state file: {exc.strerror}") \
                from None
        return salt

    def _header(self, handle: BinaryIO) -> bytes:
        raw, _ = _read_line(handle)
        try:
            header = json.loads(raw)
        except ValueError:
            header = None
        if isinstance(header, dict) and header.get("kind") == STATE_KIND \
                and header.get("v") == STATE_VERSION and isinstance(header.get("salt"), str):
            try:
                return bytes.fromhex(header["salt"])
            except ValueError:
                pass
        if isinstance(header, dict) and "delivery" in header and "status" in header:
            raise InputError(
                f"{self.path}: a state file from an older dodo-inngest, which stored targets "
                "masked (two keys that mask alike would count as one target)",
                hint="move it away and replay again: deliveries it recorded are sent again, "
                     "and Inngest skips the ones it has through their event ids")
        raise InputError(f"{self.path}: not a replay state file (its first line is not a "
                         "dodo-inngest state header)",
                         hint="--state names the state file; a capture is not one")

    def _take(self, raw: bytes, whole: bool, number: int) -> None:
        try:
            record = json.loads(raw) if whole else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("delivery"), str) \
                or not isinstance(record.get("target"), str):
            if whole or raw.endswith(b"\n"):
                self._problem(f"line {number} is not a state record; ignored")
            return
        if record.get("outcome") == Outcome.ACCEPTED.value:
            self._done.add(_key(record["delivery"], record["target"]))

    def _problem(self, text: str) -> None:
        if len(self.problems) < 5:
            self.problems.append(text)
        elif len(self.problems) == 5:
            self.problems.append("… and more unreadable lines")


def _read_line(handle: BinaryIO) -> tuple[bytes, bool]:
    """One line of at most MAX_STATE_LINE bytes: (its bytes, whether it was read whole); the
    rest of a longer line is skipped in chunks, never held in memory."""
    raw = handle.readline(MAX_STATE_LINE)
    if len(raw) < MAX_STATE_LINE or raw.endswith(b"\n"):
        return raw, raw.endswith(b"\n")
    while True:
        chunk = handle.readline(MAX_STATE_LINE)
        if not chunk or chunk.endswith(b"\n"):
            return raw[:64] + b"\n", False



def _hold(path: Path) -> Any:
    """An exclusive lock on the state file for this run; a second run says who holds it. The
    lock is named after the file's real path, so links and other spellings share it."""
    from filelock import FileLock, Timeout

    path = path.resolve()
    lock_path = path.with_name(path.name + ".lock")
    owner = _owner_path(path)
    make_folder_for(path, "state file", "--state picks another place")
    try:
        lock = FileLock(str(lock_path), timeout=0)
        lock.acquire()
    except Timeout:
        try:
            who = owner.read_text(encoding="utf-8").strip()
        except OSError:
            who = "another process"
        raise InputError(f"{path}: another replay is using this state file ({who})",
                         hint="wait for it to finish, or give this run its own --state") \
            from None
    except OSError as exc:
        raise InputError(f"{path}: cannot lock the state file: {exc.strerror}",
                         hint="--state picks another place") from None
    with contextlib.suppress(OSError, KeyError):  # who holds it is only a courtesy
        owner.write_text(f"pid {os.getpid()} of {getpass.getuser()} on "
                         f"{socket.gethostname()}, since {now_iso()}", encoding="utf-8")
    return lock


def _owner_path(state: Path) -> Path:
    """Where the run holding the state file says who it is."""
    state = state.resolve()
    return state.with_name(state.name + ".owner")


DEFAULT_STATE = ".dodo-inngest-replay-state.jsonl"


def default_state_path(captures: list[Path]) -> Path:
    """One state file per folder of captures, hidden (replaying the folder never reads it as a
    capture): the same whatever the captures' order, and whether they are named one by one or
    by their folder. With captures in several folders, the first folder in sorted order."""
    folders = sorted(str(p.resolve() if p.is_dir() else p.resolve().parent) for p in captures)
    return Path(folders[0]) / DEFAULT_STATE


def check_state_path(state: Path, captures: list[Path]) -> None:
    """Refuse a state file that is one of the captures, or would be read as one."""
    resolved = state.resolve()
    for capture in captures:
        place = capture.resolve()
        if resolved == place:
            raise InputError(f"--state {state}: that is a capture being replayed",
                             hint="the state file is written to; give it its own name")
        if capture.is_dir() and place in resolved.parents \
                and not state.name.startswith(".") and state.suffix in READABLE_SUFFIXES:
            raise InputError(f"--state {state}: it lies in the folder being replayed and would "
                             "be read as a capture",
                             hint="put it elsewhere, or give it a name starting with '.'")


@dataclasses.dataclass(frozen=True)
class Filters:
    """Which deliveries a replay takes."""

    events: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    ids: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        """The filters as they were given on the command line."""
        parts = [*(f"--event {e}" for e in self.events), *(f"--id {i}" for i in self.ids)]
        parts += [f"--since {self.since.isoformat()}"] if self.since else []
        parts += [f"--until {self.until.isoformat()}"] if self.until else []
        return " ".join(parts)

    def check_matched(self, report: ReplayReport) -> None:
        """Filters that kept none of the deliveries read are an input error (exit 2), as in
        `test --event`: a typo must not pass for an empty capture."""
        if self.shown and report.read and not report.kept:
            raise InputError(f"no delivery of the {report.read} read matches {self.shown}",
                             hint="event types look like payment.succeeded; try 'payment.*'")

    def keeps(self, delivery: Delivery) -> bool:
        """Whether the delivery passes every filter."""
        if self.ids and delivery.id not in self.ids:
            return False
        if self.events and not matches(event_type_of(delivery.body), self.events):
            return False
        if self.since or self.until:
            when = delivery.event_time
            if when is None or (self.since and when < self.since) \
                    or (self.until and when >= self.until):
                return False
        return True


class RateLimiter:
    """At most `rate` starts per second, spread evenly; waits end at once on a stop."""

    def __init__(self, rate: float | None, cancel: Cancel = NEVER) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.cancel = cancel

    def wait(self) -> None:
        """Block until the next start is allowed."""
        if not self.interval:
            return
        now = time.monotonic()
        start = max(now, self.next)
        self.next = start + self.interval
        self.cancel.sleep(start - now)


SHOWN = (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.FAILED, Outcome.ERROR, Outcome.CANCELLED,
         Outcome.SKIPPED, Outcome.DUPLICATE, Outcome.INVALID)
"""The outcomes a replay reports, in this order (a dry run adds would-send)."""


@dataclasses.dataclass
class ReplayReport:
    """The tally of a replay: its verdict and exit code are its own."""

    counts: dict[Outcome, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(SHOWN, 0))
    assigned: int = 0
    """Events that had no id and got one derived from the delivery."""
    interrupted: bool = False
    state_problems: list[str] = dataclasses.field(default_factory=list)
    read: int = 0
    """Deliveries read from the inputs."""
    kept: int = 0
    """Deliveries the filters kept."""
    abandoned: int = 0
    """Requests still in flight when a stop's grace ran out: not recorded (they go again next
    run), and not waited for."""

    def add(self, dispatch: Dispatch) -> None:
        """Count one delivery's outcome."""
        self.counts[dispatch.outcome] = self.counts.get(dispatch.outcome, 0) + 1
        self.assigned += dispatch.assigned_id

    @property
    def ok(self) -> bool:
        """Nothing was rejected, failed or errored (and the run was not interrupted)."""
        return not self.interrupted and not any(n for o, n in self.counts.items() if o.failing)

    @property
    def exit_code(self) -> ExitCode:
        """0, 1 when a delivery did not go through, 130 when interrupted."""
        return verdict(self.ok, interrupted=self.interrupted)

    def to_json(self) -> dict[str, Any]:
        """The summary as the JSON report shows it."""
        return {"ok": self.ok, "interrupted": self.interrupted,
                "summary": {o.value: n for o, n in self.counts.items()},
                "assigned_ids": self.assigned, "state_problems": self.state_problems}





@dataclasses.dataclass
class Replay:
    """One replay run: deliveries in, dispatches out, state recorded."""

    transform: Transform
    target: Target
    checks: Checks
    client: EventClient | None
    """None for a dry run: everything is prepared and shown, nothing sent or recorded."""
    state: StateFile | None
    filters: Filters = dataclasses.field(default_factory=Filters)
    signer: Any = None
    allow_unverified: bool = False
    force: bool = False
    assign_id: bool = True
    concurrency: int = 4
    rate: float | None = None
    batch: int = 20
    """Events per request (their deliveries' events sent as one array); 1 sends each alone."""
    cancel: Cancel = dataclasses.field(default_factory=Cancel)
    expect: Expectations | None = None
    """What a dry run also checks: the project's functions (--functions)."""

    def __post_init__(self) -> None:
        self.relay = Relay(self.transform, self.target, self.checks, self.client,
                           assign_id=self.assign_id, batch=self.batch, cancel=self.cancel,
                           expect=self.expect)
        self.target_hash = self.state.target_hash(self.target) if self.state else ""
        self.claimed = SeenSet()
        """Deliveries this run already took (Dodo's retries are captured more than once)."""

    def screen(self, item: Delivery) -> Dispatch | None:
        """A dispatch decided without sending (bad signature, already accepted, a repeat)."""
        if self.signer is not None:
            state, reason = check_signature(self.signer, item, tolerance_s=None)
            if state != "valid" and not self.allow_unverified:
                return Dispatch(item.id, item.source, "", Outcome.INVALID,
                                reason=f"signature {state}: {reason}")
        if not self.force and self.state is not None and \
                self.state.accepted(item.id, self.target_hash):
            return Dispatch(item.id, item.source, "", Outcome.SKIPPED,
                            reason="already accepted by this target")
        key = _key(item.id, "")
        if key in self.claimed:
            return Dispatch(item.id, item.source, "", Outcome.DUPLICATE,
                            reason="a repeat of an earlier delivery in the input (a Dodo retry)")
        self.claimed.add(key)
        return None

    def run(self, items: Iterable[Delivery | Problem], on_dispatch: Callable[[Dispatch], None],
            on_batch: Callable[[Batch], None] | None = None) -> ReplayReport:
        """Process every delivery, `concurrency` requests in flight; a stop (Ctrl-C) ends the
        waits at once, records what finished, and returns."""
        report = ReplayReport(state_problems=list(self.state.problems) if self.state else [])
        limiter = RateLimiter(self.rate, self.cancel)
        lock = threading.Lock()

        def settle(dispatches: list[Dispatch]) -> None:
            for dispatch in dispatches:
                if self.state is not None and dispatch.outcome in RECORDED:
                    self.state.record(dispatch, self.target_hash)
                with lock:
                    report.add(dispatch)
                on_dispatch(dispatch)

        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="replay")
        in_flight: set[Future[list[Dispatch]]] = set()
        group: list[Delivery] = []
        opened = 0.0
        try:
            for item in items:
                self.cancel.check()
                if isinstance(item, Problem):
                    settle([Dispatch(item.source, item.source, "", Outcome.INVALID,
                                     reason=item.message)])
                    continue
                report.read += 1
                if not self.filters.keeps(item):
                    continue
                report.kept += 1
                decided = self.screen(item)
                if decided is not None:
                    settle([decided])
                    continue
                limiter.wait()
                if not group:
                    opened = time.monotonic()
                group.append(item)
                if len(group) >= self.batch or time.monotonic() - opened > 0.25:
                    in_flight = _submit(pool, in_flight, self, group, on_batch, settle)
                    group = []
            if group:
                in_flight = _submit(pool, in_flight, self, group, on_batch, settle)
            while in_flight:
                in_flight = _drain(in_flight, settle)
        except KeyboardInterrupt:
            report.interrupted = True
            self.cancel.set()  # every wait ends now; requests in flight get a moment to answer
            done, in_flight = wait(in_flight, timeout=IN_FLIGHT_GRACE_S)
            for future in done:
                _settle_quietly(future, settle)
            if self.client is not None:
                self.client.close()
            report.abandoned = len(in_flight)  # sent again next run; a read may not end soon
        finally:
            pool.shutdown(wait=not report.abandoned, cancel_futures=True)
        return report


def _submit(pool: ThreadPoolExecutor, in_flight: set[Future[list[Dispatch]]], run: Replay,
            group: list[Delivery], on_batch: Callable[[Batch], None] | None,
            settle: Callable[[list[Dispatch]], None]) -> set[Future[list[Dispatch]]]:
    while len(in_flight) >= run.concurrency * 2:
        in_flight = _drain(in_flight, settle)
    in_flight.add(pool.submit(run.relay.process, list(group), on_batch))
    return in_flight


def _drain(in_flight: set[Future[list[Dispatch]]], settle: Callable[[list[Dispatch]], None]
           ) -> set[Future[list[Dispatch]]]:
    """Wait for at least one request to finish and settle it; the rest are pending."""
    done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
    for future in done:
        settle(future.result())
    return pending


def _settle_quietly(future: Future[list[Dispatch]],
                    settle: Callable[[list[Dispatch]], None]) -> None:
    """Settle what a request finished with; one a stop cut short is dropped, unrecorded."""
    with contextlib.suppress(KeyboardInterrupt):
        settle(future.result())


def filters_from(events: Iterable[str], since: str | None, until: str | None,
                             ids: Iterable[str]) -> Filters:
    """Filters from the command line; a bad time is an InputError."""
    from .capture import parse_time

    try:
        window = (parse_time(since) if since else None, parse_time(until) if until else None)
    except ValueError:
        raise InputError(f"--since/--until: {since or until!r} is not an ISO-8601 time",
                         hint="e.g. 2026-03-01 or 2026-03-01T12:00:00Z") from None
    return Filters(tuple(events), window[0], window[1], tuple(ids))

