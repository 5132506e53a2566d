"""`test`'s core: plan the transforms × samples, run them with the expectations, fuzz if asked,
and hold the verdict, the exit code and the reports."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cancel import NEVER, Cancel
from .config import Config
from .errors import ExitCode, verdict
from .models import Result, Webhook
from .pipeline import Planned, run_plan
from .plan import Choices, checks, expectations, is_sample_name, plan_tests
from .report import REPORT_VERSION, Summary, result_json
from .snapshots import Scope, SnapshotStore
from .sources import split_paths

if TYPE_CHECKING:
    from .coverage import CoverageMap


@dataclasses.dataclass(frozen=True)
class SuiteOptions:
    """What `test` was asked to run and check."""

    paths: Sequence[Path] = ()
    transforms: Sequence[Path] = ()
    samples: Sequence[str] = ()
    events: Sequence[str] = ()
    snapshots: Path | None = None
    update_snapshots: bool = False
    prune: bool = False
    schemas: Path | None = None
    triggers: Path | None = None
    fuzz: int = 0
    seed: int = 0
    save_failures: Path | None = None
    coverage: bool = False
    """Also map every Dodo event type × transform."""
    fail_on_unhandled: bool = False
    """Fail when an event type is neither sent nor declared ignored (implies coverage)."""
    functions: Sequence[str] = ()
    """The project's Inngest functions to run on the events (else the config's)."""
    python: str | None = None
    snapshot_functions: bool = False


@dataclasses.dataclass
class SuiteReport:
    """Everything a `test` run found: results, snapshots, fuzzing; its verdict is its own."""

    results: list[Result]
    seconds: float
    snapshots: SnapshotStore | None = None
    orphans: list[Path] = dataclasses.field(default_factory=list)
    pruned: list[Path] = dataclasses.field(default_factory=list)
    fuzzed: list[Any] = dataclasses.field(default_factory=list)
    """fuzz.FuzzReport per transform × event type fuzzed."""
    seed: int = 0
    examples: int = 0
    coverage: CoverageMap | None = None
    fail_on_unhandled: bool = False
    functions: list[Any] | None = None
    """functions.InngestFunction per function discovered, when functions ran."""

    @property
    def summary(self) -> Summary:
        """The counts of the results."""
        return Summary.of(self.results)

    @property
    def ok(self) -> bool:
        """Nothing failed or errored, no fuzzed payload failed, and (when asked) every event
        type is sent or declared ignored."""
        unhandled = self.fail_on_unhandled and self.coverage is not None \
            and bool(self.coverage.unhandled)
        return self.summary.ok and all(report.ok for report in self.fuzzed) and not unhandled

    @property
    def exit_code(self) -> ExitCode:
        """0 when everything passed, 1 otherwise."""
        return verdict(self.ok)

    def to_json(self) -> dict[str, Any]:
        """The JSON report (README, "--format json"), with the snapshot and fuzz sections
        when they ran."""
        document: dict[str, Any] = {
            "version": REPORT_VERSION, "ok": self.ok,
            "summary": dataclasses.asdict(self.summary),
            "results": [result_json(result) for result in self.results]}
        if self.snapshots is not None:
            document["snapshots"] = self.snapshots.report(self.orphans, self.pruned)
        if self.functions is not None:
            document["functions"] = [function.to_json() for function in self.functions]
        if self.examples:
            document["fuzz"] = {"seed": self.seed, "examples": self.examples,
                                "reports": [report.to_json() for report in self.fuzzed]}
        if self.coverage is not None:
            document["coverage"] = self.coverage.to_json()
        return document


def _scope(options: SuiteOptions, plan: Sequence[Planned],
           webhooks: Sequence[Webhook]) -> Scope:
    """What this run answers for: its transforms, and its samples when they were filtered."""
    names = [p for p in options.paths if is_sample_name(p)]
    named_transforms, named_payloads = split_paths([p for p in options.paths if p not in names])
    filtered = bool(options.samples or options.events or named_payloads or names)
    return Scope(tuple(p.transform.path for p in plan),
                 frozenset(w.name for w in webhooks) if filtered else None,
                 all_transforms=not (named_transforms or options.transforms))


def run_suite(config: Config, choices: Choices, options: SuiteOptions, *,
              cancel: Cancel = NEVER,
              on_fuzz_start: Callable[[int], None] | None = None,
              on_fuzz_report: Callable[[Any], None] | None = None) -> SuiteReport:
    """Run every planned transform × sample with the expectations; then fuzz if asked."""
    started = time.perf_counter()
    judged = checks(config, choices)
    plan, webhooks = plan_tests(config, choices, paths=options.paths,
                                transforms=options.transforms, samples=options.samples,
                                events=options.events)
    expect = expectations(config, snapshots=options.snapshots, update=options.update_snapshots,
                          schemas=options.schemas, triggers=options.triggers,
                          functions=options.functions, python=options.python,
                          snapshot_functions=options.snapshot_functions)
    store = expect.snapshots
    if store is not None:
        store.scope = _scope(options, plan, webhooks)
    try:
        results = run_plan(plan, webhooks, judged, expect=expect, cancel=cancel)
    finally:
        expect.close()
    report = SuiteReport(results, 0.0, store, seed=options.seed, examples=options.fuzz,
                         functions=expect.functions.functions if expect.functions else None)
    if store is not None:
        report.pruned = store.prune() if options.prune else []
        report.orphans = store.orphans()
    if options.coverage or options.fail_on_unhandled:
        from .coverage import coverage_map

        report.coverage = coverage_map(plan, webhooks, judged, results=results,
                                       ignore=config.settings.ignore_events)
        report.fail_on_unhandled = options.fail_on_unhandled
    if options.fuzz:
        from .fuzz import fuzz_plan

        report.fuzzed = fuzz_plan(plan, examples=options.fuzz, seed=options.seed,
                                  checks=judged, events=tuple(options.events),
                                  save_to=options.save_failures, on_start=on_fuzz_start,
                                  on_report=on_fuzz_report, cancel=cancel)
    report.seconds = time.perf_counter() - started
    return report
