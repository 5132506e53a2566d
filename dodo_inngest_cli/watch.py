"""Watching a `test` (or `run`) plan: which files affect which transform × sample pairs,
re-running only those on a change, and what changed since the previous run.

A transform file affects its pairs, a sample file its pairs, a snapshot file its pair, a schema
file the pairs that send an event of its name, the triggers file the pairs that send. The config
file, a schema or triggers file, and a transform or payload added to or removed from a watched
folder re-plan (the config re-runs everything; the others only the pairs they affect).
Transforms and samples that did not change are kept as they are: compiled once, validated once.

Folders are watched (with `watchfiles`), never single files, and events are matched by path, so
an editor that saves by writing a new file and renaming it over the old one is seen like any
other save; a burst of saves within `STEP_MS` of each other is one re-run.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .cancel import NEVER, Cancel
from .errors import DodoInngestError
from .inngest import event_names
from .models import Result, Status, Webhook
from .pipeline import Checks, Expectations, Planned, check_input, evaluate, skipped
from .plan import Choices, checks, expectations, one_payload, plan_tests, transform_options
from .report import Summary
from .rules import Finding, Severity
from .sandbox import Transform
from .schemas import schema_path
from .snapshots import Change, diff, document, without
from .sources import PAYLOAD_SUFFIXES, TRANSFORM_SUFFIXES, read_webhook
from .suite import SuiteOptions

STEP_MS = 25
"""Changes closer together than this are one re-run (watchfiles' quiet period)."""
DEBOUNCE_MS = 1000
"""However long a burst of changes goes on, it is re-run after at most this long."""
WATCHED_SUFFIXES = (*TRANSFORM_SUFFIXES, *PAYLOAD_SUFFIXES)

PairKey = tuple[str, str]
"""One transform × sample: the transform's path and the sample's source, as shown."""


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything a watched run checks, as planning gives it, and the files it came from."""

    plan: list[Planned]
    webhooks: list[Webhook]
    checks: Checks
    expect: Expectations
    options: dict[str, Any]
    """Keyword arguments for Transform (limits, env, endpoint): to reload a changed one."""
    config_file: Path | None = None
    trees: tuple[Path, ...] = ()
    """Folders whose transforms and payloads are the inputs: adding or removing one re-plans."""
    triggers_file: Path | None = None
    volatile: tuple[str, ...] = ()
    """JSON-pointer patterns of values left out when outputs are compared (snapshot-ignore)."""


def suite_setup(config_file: Path | None, choices: Choices, options: SuiteOptions) -> Setup:
    """What `test` runs, planned as `test` plans it."""
    from .config import load_config

    config = load_config(config_file)
    settings = config.settings
    expect = expectations(config, snapshots=options.snapshots, schemas=options.schemas,
                          triggers=options.triggers, functions=options.functions,
                          python=options.python)
    plan, webhooks = plan_tests(config, choices, paths=options.paths,
                                transforms=options.transforms, samples=options.samples,
                                events=options.events)
    given = [*options.paths, *(Path(s) for s in options.samples),
             *(config.path(s) for s in settings.samples)]
    triggers = options.triggers or (config.path(settings.triggers) if settings.triggers
                                    else None)
    return Setup(plan=plan, webhooks=webhooks, checks=checks(config, choices), expect=expect,
                 options=transform_options(config, choices),
                 config_file=Path(config.source) if config.source else None,
                 trees=tuple(path for path in given if path.is_dir()), triggers_file=triggers,
                 volatile=tuple(settings.snapshot_ignore))


def run_setup(config_file: Path | None, choices: Choices, transform: Path,
              payload: str) -> Setup:
    """What `run` runs: one transform on one payload, no event filter, no expectations."""
    from .config import load_config

    config = load_config(config_file)
    webhook = one_payload(payload)
    options = transform_options(config, choices)
    return Setup(plan=[Planned(Transform.from_file(transform, **options))], webhooks=[webhook],
                 checks=checks(config, choices), expect=Expectations(), options=options,
                 config_file=Path(config.source) if config.source else None)


class Kind(str, enum.Enum):
    """How a re-run pair differs from its previous run."""

    FAILING = "newly failing"
    FIXED = "fixed"
    STILL_FAILING = "still failing, differently"
    CHANGED = "output changed"
    NEW = "new"
    REMOVED = "removed"


@dataclasses.dataclass(frozen=True)
class Delta:
    """One pair whose verdict or output changed since the previous run."""

    kind: Kind
    result: Result
    """The new result (the previous one, for a removed pair)."""
    changes: list[Change] = dataclasses.field(default_factory=list)
    """The outgoing request's differences from the previous run."""


@dataclasses.dataclass(frozen=True)
class Round:
    """One run of the watched plan: the whole current verdict and what this run changed."""

    number: int
    changed: tuple[Path, ...]
    """The files whose change started it (none for the first)."""
    results: list[Result]
    reran: list[Result]
    """The results of the pairs that ran this time (pairs an event filter skips left out)."""
    total: int
    """How many pairs the plan runs (pairs an event filter skips left out)."""
    deltas: list[Delta]
    seconds: float
    error: DodoInngestError | None = None
    """Why the change could not be run (the previous results stand)."""

    @property
    def summary(self) -> Summary:
        """The counts over every current result."""
        return Summary.of(self.results)

    @property
    def quiet(self) -> bool:
        """Nothing ran, nothing changed and nothing went wrong: nothing to show."""
        return not self.reran and not self.deltas and self.error is None


@dataclasses.dataclass(frozen=True)
class Dependencies:
    """Which files affect which pairs, and which folders to watch for them."""

    pairs: dict[Path, frozenset[PairKey]]
    inputs: frozenset[Path]
    """The transform and payload files."""
    replan: frozenset[Path]
    """Files whose change re-plans: the config, the triggers file."""
    config: Path | None
    trees: tuple[Path, ...]
    """Folders of inputs: a transform or payload added or removed there re-plans."""
    roots: tuple[Path, ...]
    """Folders whose whole tree is watched: input folders, snapshots, schemas."""
    folders: tuple[Path, ...]
    """Every folder to watch (each one alone, not recursively)."""

    def wants(self, path: Path) -> bool:
        """Whether a change to this path matters."""
        if path in self.pairs or path in self.replan:
            return True
        if path.name.startswith("."):
            return False  # editors' swap and lock files, our own state files
        return any(path.is_relative_to(root) for root in self.roots) and \
            (path.suffix in WATCHED_SUFFIXES or path.is_dir())

    def affected(self, paths: Iterable[Path]) -> set[PairKey]:
        """The pairs these files affect."""
        return {key for path in paths for key in self.pairs.get(path, ())}


def dependencies(setup: Setup, results: Iterable[Result]) -> Dependencies:
    """The file → pairs map of a plan and its latest results."""
    pairs: dict[Path, set[PairKey]] = {}
    resolved: dict[str, Path] = {}  # many pairs share a file: resolve each once

    def add(path: str, key: PairKey) -> Path:
        if path not in resolved:
            resolved[path] = Path(path).resolve()
        pairs.setdefault(resolved[path], set()).add(key)
        return resolved[path]

    store, schemas = setup.expect.snapshots, setup.expect.schemas
    inputs: set[Path] = set()
    for result in results:
        key = (result.transform, result.source)
        inputs.update((add(result.transform, key), add(result.source, key)))
        if store is not None:
            add(str(store.path(result.transform, result.sample)), key)
        if schemas is not None and result.request is not None:
            for name in event_names(result.request.payload):
                add(str(schema_path(schemas.root, name)), key)
        if setup.triggers_file is not None and result.triggers is not None:
            add(str(setup.triggers_file), key)
    replan = {path.resolve() for path in (setup.config_file, setup.triggers_file) if path}
    trees = tuple(tree.resolve() for tree in setup.trees)
    roots = list(trees)
    if store is not None:
        roots.append(store.root.resolve())
    if schemas is not None:
        roots.append(schemas.root.resolve())
    unique = tuple(dict.fromkeys(roots))
    folders = {path.parent for path in [*pairs, *replan]}
    for root in unique:
        folders.add(root)
        folders.update(p for p in root.rglob("*") if p.is_dir()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
    return Dependencies(
        pairs={path: frozenset(keys) for path, keys in pairs.items()},
        inputs=frozenset(inputs), replan=frozenset(replan),
        config=setup.config_file.resolve() if setup.config_file else None, trees=trees,
        roots=unique,
        folders=tuple(sorted(folder for folder in folders if folder.is_dir())))


class WatchSession:
    """A plan kept warm between runs: re-runs only the pairs a change affects."""

    def __init__(self, setup: Callable[[], Setup], *, cancel: Cancel = NEVER) -> None:
        self._setup = setup
        self.cancel = cancel
        self.state = setup()
        self.results: dict[PairKey, Result] = {}
        self.deps = dependencies(self.state, [])
        self.rounds = 0
        self._inputs: dict[tuple[str, str], list[Finding]] = {}
        self._pending: set[Path] = set()

    def close(self) -> None:
        """End what the setup holds open (function runners)."""
        self.state.expect.close()

    def first(self) -> Round:
        """Run every pair."""
        started = time.perf_counter()
        keys = {(p.transform.path, w.source) for p in self.state.plan for w in self.state.webhooks}
        return self._finish(started, (), self.state, self._run(self.state, keys), keys)

    def apply(self, paths: Iterable[Path]) -> Round:
        """Re-run what these changed files affect. A change that cannot be read (a payload
        that is not JSON, a bad config) is reported in the round and retried with the next."""
        started = time.perf_counter()
        changed = {Path(path) for path in paths} | self._pending
        try:
            state, affected = self._update(changed)
            results = self._run(state, affected)
        except DodoInngestError as exc:
            self._pending = changed
            self.rounds += 1
            current = list(self.results.values())
            return Round(self.rounds, tuple(sorted(changed)), current, [], _runnable(current),
                         [], time.perf_counter() - started, error=exc)
        self._pending = set()
        return self._finish(started, tuple(sorted(changed)), state, results, affected)

    def _finish(self, started: float, changed: tuple[Path, ...], state: Setup,
                results: dict[PairKey, Result], affected: set[PairKey]) -> Round:
        found = deltas(self.results, results, affected, state.volatile) if self.rounds else []
        if state.expect is not self.state.expect:
            self.state.expect.close()  # a new setup: the old one's function runners end
        self.state, self.results = state, results
        self.deps = dependencies(state, results.values())
        self.rounds += 1
        reran = [r for key, r in results.items() if key in affected
                 and r.status is not Status.SKIPPED]
        current = list(results.values())
        return Round(self.rounds, changed, current, reran, _runnable(current), found,
                     time.perf_counter() - started)

    def _update(self, changed: set[Path]) -> tuple[Setup, set[PairKey]]:
        """The setup after these changes, and the pairs to re-run."""
        deps = self.deps
        if any(_joins_or_leaves(path, deps) or path in deps.replan
               or _under(path, self.state.expect) for path in changed):
            state = self._setup()
            self._inputs.clear()
            keys = {(p.transform.path, w.source) for p in state.plan for w in state.webhooks}
            if deps.config is not None and deps.config in changed:
                return state, keys
            return state, (keys - set(self.results)) | (deps.affected(changed) & keys)
        return self._reloaded(changed), deps.affected(changed)

    def _reloaded(self, changed: set[Path]) -> Setup:
        """The setup with the changed transforms and samples read again."""
        state = self.state
        plan = [dataclasses.replace(p, transform=Transform.from_file(
                    Path(p.transform.path), **state.options))
                if Path(p.transform.path).resolve() in changed else p for p in state.plan]
        webhooks = []
        for webhook in state.webhooks:
            if Path(webhook.source).resolve() in changed:
                fresh = read_webhook(Path(webhook.source))
                webhook = dataclasses.replace(fresh, name=webhook.name)
            webhooks.append(webhook)
        return dataclasses.replace(state, plan=plan, webhooks=webhooks)

    def _run(self, state: Setup, keys: set[PairKey]) -> dict[PairKey, Result]:
        """Every pair's result in plan order: run again when in keys, else as it was."""
        results: dict[PairKey, Result] = {}
        for planned in state.plan:
            for webhook in state.webhooks:
                self.cancel.check()
                key = (planned.transform.path, webhook.source)
                previous = self.results.get(key)
                results[key] = previous if key not in keys and previous is not None \
                    else self._evaluate(state, planned, webhook)
        return results

    def _evaluate(self, state: Setup, planned: Planned, webhook: Webhook) -> Result:
        if not planned.handles(webhook.event_type):
            return skipped(planned.transform, webhook)
        key = (webhook.source, webhook.body)
        if key not in self._inputs:
            self._inputs[key] = check_input(webhook, state.checks)
        return evaluate(planned.transform, webhook, state.checks, self._inputs[key],
                        state.expect)


def _joins_or_leaves(path: Path, deps: Dependencies) -> bool:
    """Whether a changed path takes a transform or payload out of the plan (it is gone) or
    brings one in (new in a watched folder of inputs)."""
    if path.name.startswith(".") or path.suffix not in WATCHED_SUFFIXES:
        return False
    if path in deps.inputs:
        return not path.is_file()
    return path.is_file() and any(path.is_relative_to(tree) for tree in deps.trees)


def _under(path: Path, expect: Expectations) -> bool:
    schemas = expect.schemas
    return schemas is not None and path.is_relative_to(schemas.root.resolve())


def _runnable(results: Iterable[Result]) -> int:
    return sum(result.status is not Status.SKIPPED for result in results)


def _bad(result: Result) -> bool:
    return result.status in (Status.FAILED, Status.ERROR)


def _errors(result: Result) -> set[tuple[str, str]]:
    return {(f.code, f.message) for f in result.findings if f.severity is Severity.ERROR}


def output_changes(before: Result, after: Result, volatile: Sequence[str] = ()) -> list[Change]:
    """How the outgoing request differs between two runs of a pair (none when either could
    not run to the end); volatile patterns are left out."""
    if Status.ERROR in (before.status, after.status):
        return []
    old, new = (without(document(r.request, cancelled=r.status is Status.CANCELLED), volatile)
                for r in (before, after))
    return diff(old, new)


def deltas(old: dict[PairKey, Result], new: dict[PairKey, Result], affected: set[PairKey],
           volatile: Sequence[str] = ()) -> list[Delta]:
    """What changed for the re-run pairs: newly failing, fixed, failing differently, output
    changed, new; then the pairs that are gone."""
    found: list[Delta] = []
    for key, result in new.items():
        before = old.get(key)
        if before is not None and before.status is Status.SKIPPED:
            before = None
        if key not in affected or result.status is Status.SKIPPED:
            if key in affected and before is not None:
                found.append(Delta(Kind.REMOVED, before))
            continue
        changes = output_changes(before, result, volatile) if before is not None else []
        if before is None:
            kind: Kind | None = Kind.FAILING if _bad(result) else Kind.NEW
        elif _bad(result):
            kind = Kind.STILL_FAILING if _bad(before) else Kind.FAILING
            if kind is Kind.STILL_FAILING and _errors(before) == _errors(result):
                kind = None
        else:
            kind = Kind.FIXED if _bad(before) else Kind.CHANGED if changes else None
        if kind is not None:
            found.append(Delta(kind, result, changes))
    found += [Delta(Kind.REMOVED, before) for key, before in old.items()
              if key not in new and before.status is not Status.SKIPPED]
    return found


class _Listening:
    """watchfiles' stop event: asks the Cancel token, and calls on_ready when first asked,
    which watchfiles does once every watch is in place."""

    def __init__(self, cancel: Cancel, on_ready: Callable[[], None] | None) -> None:
        self.cancel = cancel
        self.on_ready = on_ready

    def is_set(self) -> bool:
        """Whether watching should stop."""
        if self.on_ready is not None:
            ready, self.on_ready = self.on_ready, None
            ready()
        return self.cancel.is_set()


def follow(session: WatchSession, *, on_round: Callable[[Round], None],
           on_ready: Callable[[Dependencies], None] | None = None) -> None:
    """Re-run the session on every change until its Cancel token is set (then Interrupted is
    raised): between runs, watching stops within STEP_MS; during one, at the next pair.

    on_ready is called whenever the watches are in place (again after folders change); a
    round with nothing to show is not passed to on_round.
    """
    from watchfiles import watch

    while True:
        deps = session.deps

        def ready(deps: Dependencies = deps) -> None:
            if on_ready is not None:
                on_ready(deps)

        folders = [folder for folder in deps.folders if folder.is_dir()]
        for batch in watch(*folders, watch_filter=lambda _, path: session.deps.wants(Path(path)),
                           step=STEP_MS, debounce=DEBOUNCE_MS, recursive=False,
                           stop_event=_Listening(session.cancel, ready)):
            outcome = session.apply(Path(path) for _, path in batch)
            if not outcome.quiet:
                on_round(outcome)
            if session.deps.folders != deps.folders:
                break  # watch the new set of folders
        else:
            session.cancel.check()
            return
