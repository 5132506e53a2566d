"""Property-based robustness: generated Dodo payloads, valid under the official models.

Payloads come from `generate` (seeded, drawn from the `dodopayments` models' type annotations,
each checked strictly against its model) and run through the sandbox and the Inngest checks;
the first payload that fails with each rule code is reduced by `shrink` to the smallest change
to the bundled sample that still fails. Big runs are spread over worker processes, one per
core: payload number i of a run is the same in any process, so the report does not depend on
how many there are. (Hypothesis, used before, took some 35 times longer to draw the same
shapes, and its shrinking was redone anyway by the reduction against the bundled sample.)
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import itertools
import json
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import generate
from .cancel import NEVER, Cancel, Interrupted
from .dodo import event_models
from .errors import InputError
from .models import Status, Webhook
from .pipeline import Checks, evaluate
from .rules import Severity
from .sandbox import Transform
from .shrink import closest_to
from .snapshots import Change, diff
from .sources import parse_webhook

STRETCH = 25
"""Payloads a worker takes at a time: few enough to share the work evenly and stop soon."""
POOL_MIN = 200
"""Below this many payloads in all, worker processes cost more to start than they save."""
AHEAD = 3
"""Stretches started ahead per worker process."""
POLL_SECONDS = 0.05
"""How often a wait for workers looks at the cancellation token."""


@dataclasses.dataclass(frozen=True)
class Reproducer:
    """The minimal payload found for one failing rule code."""

    code: str
    payload: dict[str, Any]
    message: str
    changes: list[Change]
    """How it differs from the bundled sample of its type."""
    saved: Path | None = None


@dataclasses.dataclass(frozen=True)
class FuzzReport:
    """One transform fuzzed over one event type."""

    transform: str
    event_type: str
    tried: int
    failures: dict[str, int]
    reproducers: list[Reproducer]

    @property
    def ok(self) -> bool:
        """No generated payload failed."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {"transform": self.transform, "event_type": self.event_type,
                "tried": self.tried, "failures": self.failures,
                "reproducers": [{"code": r.code, "message": r.message, "payload": r.payload,
                                 "diff": [c.to_json() for c in r.changes],
                                 "saved": str(r.saved) if r.saved else None}
                                for r in self.reproducers]}


def failing_codes(transform: Transform, payload: dict[str, Any], text: str,
                  checks: Checks) -> dict[str, str]:
    """The errors one payload (and its JSON text) gets, as `code` (or `code@line` for a JS
    fault at a line, so two throw sites are two bugs) → message; empty when it passes.

    The payload's own Dodo validation is skipped: generated payloads are valid by
    construction, and its findings are warnings, which never make a fuzz failure. The time
    limit is wall-clock time, which a busy machine can use up: a timeout counts only when a
    second run times out too, so the same seed gives the same findings."""
    webhook = Webhook(payload=payload, body=text, source="<fuzz>", name="fuzz")
    result = evaluate(transform, webhook, checks, inputs=[])
    if any(f.code == "js-timeout" for f in result.findings):
        result = evaluate(transform, webhook, checks, inputs=[])
    if result.status not in (Status.FAILED, Status.ERROR):
        return {}
    return {f"{f.code}@{f.line}" if f.line else f.code: f.message for f in result.findings
            if f.severity is Severity.ERROR}


@dataclasses.dataclass(frozen=True)
class _Stretch:
    """Payloads start to stop of one run: the unit of work a process takes."""

    transform: Transform
    event_type: str
    seed: int
    start: int
    stop: int
    checks: Checks


@dataclasses.dataclass
class _Found:
    """What a stretch of payloads found."""

    tried: int = 0
    failures: Counter[str] = dataclasses.field(default_factory=Counter)
    """Payloads failing, per rule code."""
    first: dict[str, tuple[dict[str, Any], str]] = dataclasses.field(default_factory=dict)
    """The first payload that failed, and its message, per failing code (or code@line)."""

    def add(self, other: _Found) -> None:
        """Fold in the findings of a later stretch."""
        self.tried += other.tried
        self.failures.update(other.failures)
        for key, first in other.first.items():
            self.first.setdefault(key, first)


def _explore(stretch: _Stretch, check: Callable[[], None]) -> _Found:
    """Generate and run the stretch's payloads; check() between them may stop the work."""
    found = _Found()
    for index in range(stretch.start, stretch.stop):
        check()
        payload, text = generate.payload(stretch.event_type, stretch.seed, index)
        codes = failing_codes(stretch.transform, payload, text, stretch.checks)
        found.tried += 1
        found.failures.update({key.split("@")[0] for key in codes})
        for key, message in codes.items():
            found.first.setdefault(key, (payload, message))
    return found


_stop_workers: Any = None
"""In a worker process: the event the parent sets to stop it."""


def _start_worker(stop: Any) -> None:
    """A worker ignores Ctrl-C (the parent handles it and tells the workers) and keeps the
    parent's stop event."""
    global _stop_workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_workers = stop


def _check_stop() -> None:
    if _stop_workers.is_set():
        raise Interrupted


def _explore_in_worker(stretch: _Stretch) -> _Found:
    return _explore(stretch, _check_stop)


class _Workers:
    """Runs stretches here, or on worker processes; findings come back in order."""

    def __init__(self, processes: int, cancel: Cancel) -> None:
        self.cancel = cancel
        self.ahead = AHEAD * processes
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        if processes > 1:
            # Forked workers start at once with everything imported and compiled; elsewhere
            # than Linux fork is unsafe and workers are spawned (they import on start).
            context = multiprocessing.get_context(
                "fork" if sys.platform.startswith("linux") else "spawn")
            self.stop = context.Event()
            self.pool = concurrent.futures.ProcessPoolExecutor(
                processes, mp_context=context, initializer=_start_worker,
                initargs=(self.stop,))

    def results(self, stretches: Iterable[_Stretch]) -> Iterator[_Found]:
        """The findings of each stretch, in order. On workers, the first stretches start
        now and each result read starts the next, so workers stay busy while the caller
        reduces failures."""
        if self.pool is None:
            return (_explore(stretch, self.cancel.check) for stretch in stretches)
        pending = iter(stretches)
        started = collections.deque(self.pool.submit(_explore_in_worker, stretch)
                                    for stretch in itertools.islice(pending, self.ahead))
        return self._in_order(self.pool, started, pending)

    def _in_order(self, pool: concurrent.futures.ProcessPoolExecutor,
                  started: collections.deque[concurrent.futures.Future[_Found]],
                  pending: Iterator[_Stretch]) -> Iterator[_Found]:
        while started:
            future = started.popleft()
            self.cancel.check()
            while not concurrent.futures.wait([future], timeout=POLL_SECONDS).done:
                self.cancel.check()
            started.extend(pool.submit(_explore_in_worker, stretch)
                           for stretch in itertools.islice(pending, 1))
            yield future.result()

    def close(self, *, stopping: bool) -> None:
        """Shut the workers down; when stopping, each ends after its current payload."""
        if self.pool is not None:
            if stopping:
                self.stop.set()
            self.pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _workers(processes: int, cancel: Cancel) -> Iterator[_Workers]:
    workers = _Workers(processes, cancel)
    try:
        yield workers
    except BaseException:
        workers.close(stopping=True)
        raise
    workers.close(stopping=False)


def _processes(workers: int | None, payloads: int) -> int:
    """Worker processes for a run: as asked, else one per core when the run is big enough."""
    if workers is not None:
        return workers
    if payloads < POOL_MIN:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    return cores


def _stretches(transform: Transform, event_type: str, *, examples: int, seed: int,
               checks: Checks) -> Iterator[_Stretch]:
    for start in range(0, examples, STRETCH):
        yield _Stretch(transform, event_type, seed, start, min(start + STRETCH, examples),
                       checks)


def _gather(results: Iterator[_Found], examples: int) -> _Found:
    """The findings of one run: its stretches' findings, folded in order."""
    found = _Found()
    for part in itertools.islice(results, -(-examples // STRETCH)):
        found.add(part)
    return found


def _report(transform: Transform, event_type: str, found: _Found, *, checks: Checks,
            baseline: dict[str, Any] | None, save_to: Path | None,
            cancel: Cancel) -> FuzzReport:
    """The report of one run: one reproducer per failing code, reduced."""
    model = event_models()[event_type]

    def codes(payload: dict[str, Any]) -> dict[str, str]:
        cancel.check()
        return failing_codes(transform, payload, json.dumps(payload, ensure_ascii=False),
                             checks)

    reproducers = []
    for key, (first, message) in sorted(found.first.items()):
        def still_fails(payload: dict[str, Any], key: str = key) -> bool:
            cancel.check()
            text = json.dumps(payload, ensure_ascii=False)
            return generate.is_valid(model, text) and \
                key in failing_codes(transform, payload, text, checks)

        if baseline is not None and key in codes(baseline):
            minimal = baseline  # the bundled sample itself fails: nothing smaller to find
        else:
            reference = baseline if baseline is not None else generate.simplest_body(event_type)
            minimal = closest_to(reference, first, still_fails)
        saved = _save(save_to, transform, event_type, key.replace("@", "-line"), minimal) \
            if save_to else None
        # A failure that does not happen again (a time limit hit on a busy machine, a
        # transform using Math.random) keeps the payload and message it was found with.
        reproducers.append(Reproducer(key.split("@")[0], minimal,
                                      codes(minimal).get(key, message),
                                      diff(baseline, minimal) if baseline else [], saved))
    return FuzzReport(transform.path, event_type, found.tried,
                      dict(sorted(found.failures.items())), reproducers)


def fuzz(transform: Transform, event_type: str, *, examples: int, seed: int,
         checks: Checks, baseline: dict[str, Any] | None = None,
         save_to: Path | None = None, cancel: Cancel = NEVER,
         workers: int | None = None) -> FuzzReport:
    """Run `examples` generated payloads through the transform; reduce one per failing code
    to its smallest change to baseline (the bundled sample; without one, to the plainest
    payload of the type).

    workers: processes to spread the payloads over (None: one per core for big runs).
    cancel is checked between payloads and between the reduction's attempts.
    """
    generate.body_draw(event_type)  # an unknown type is an error before any worker starts
    with _workers(_processes(workers, examples), cancel) as pool:
        results = pool.results(_stretches(transform, event_type, examples=examples, seed=seed,
                                          checks=checks))
        return _report(transform, event_type, _gather(results, examples), checks=checks,
                       baseline=baseline, save_to=save_to, cancel=cancel)


def _save(folder: Path, transform: Transform, event_type: str, code: str,
          payload: dict[str, Any]) -> Path:
    path = folder / f"{event_type}.{Path(transform.path).stem}.{code}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot save the reproducer: {exc.strerror}") from None
    return path


def handled_types(transform: Transform, samples: Callable[[str], Webhook | None],
                  types_: list[str], checks: Checks) -> list[str]:
    """The event types the transform shapes: its bundled sample is neither cancelled nor
    passed through raw."""
    handled = []
    for event_type in types_:
        webhook = samples(event_type)
        if webhook is None:
            continue
        result = evaluate(transform, webhook, Checks(dodo_check=False, ignore=checks.ignore))
        if result.status is not Status.CANCELLED and \
                not any(f.code == "passthrough" for f in result.findings):
            handled.append(event_type)
    return handled


def sample_body(event_type: str) -> Webhook | None:
    """The bundled sample of an event type, if there is one."""
    from .library import library_root

    path = library_root() / f"{event_type}.json"
    if not path.is_file():
        return None
    return parse_webhook(path.read_bytes(), source=str(path), name=event_type)


def fuzz_plan(plan: list[Any], *, examples: int, seed: int, checks: Checks,
              events: tuple[str, ...] = (), save_to: Path | None = None,
              on_start: Callable[[int], None] | None = None,
              on_report: Callable[[FuzzReport], None] | None = None,
              cancel: Cancel = NEVER, workers: int | None = None) -> list[FuzzReport]:
    """Fuzz every planned transform over each event type it handles (and the filters allow).

    on_start gets how many transform × event type runs there will be; on_report each report.
    Every run's payloads are handed to the workers before on_start, so they start (fork)
    before a caller's progress display starts a thread.
    """
    from .models import matches

    work = []
    for planned in plan:
        types_ = [t for t in sorted(event_models()) if planned.handles(t)
                  and (not events or matches(t, events))]
        work += [(planned.transform, event_type) for event_type
                 in handled_types(planned.transform, sample_body, types_, checks)]
    for _, event_type in work:
        generate.body_draw(event_type)
    reports = []
    with _workers(_processes(workers, examples * len(work)), cancel) as pool:
        results = pool.results(stretch for transform, event_type in work for stretch in
                               _stretches(transform, event_type, examples=examples, seed=seed,
                                          checks=checks))
        if on_start is not None:
            on_start(len(work))
        for transform, event_type in work:
            sample = sample_body(event_type)
            report = _report(transform, event_type, _gather(results, examples), checks=checks,
                             baseline=sample.payload if sample else None, save_to=save_to,
                             cancel=cancel)
            reports.append(report)
            if on_report is not None:
                on_report(report)
    return reports
