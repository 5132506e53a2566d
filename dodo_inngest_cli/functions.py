"""The functions stage: the project's own Inngest functions, discovered from `--functions`
targets, matched against each event with Inngest's rules, and run on it offline.

Discovery happens once per run: the runners (see function_runners.py) load the targets and
list each function's triggers. An event then runs every function whose event trigger matches
its name (Inngest's wildcards) and whose `if` expression is true (CEL, as triggers.py
evaluates it); cron triggers are listed and never run. Each function runs once, one at a
time, within a time limit; step.sleep never waits, and a wait for an event or an invoke with
no stub in `[functions.steps]` gets null, as a wait that timed out. The user's functions run
as their own code, not sandboxed, like their tests.
"""

from __future__ import annotations

import dataclasses
import enum
import linecache
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .function_runners import Launch, RunnerProcess, RunnerStopped, launches
from .rules import Finding, finding
from .triggers import CEL_HINT, Match, Trigger, cel_problem, match, name_matches, pattern_problem

TARGET_HINT = "name an inngest.Inngest client, an inngest.Function, or a list of them, as " \
              "module:attribute"


class FunctionStatus(str, enum.Enum):
    """How one function run ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    STUBBED_WAIT = "stubbed-wait"
    """Completed, with a wait for an event (or an invoke) answered by null: no stub given."""


@dataclasses.dataclass(frozen=True)
class Frame:
    """One line of a function's traceback, in the project's own code."""

    file: str
    line: int
    function: str
    code: str

    def to_json(self) -> dict[str, Any]:
        """The frame as the JSON report shows it."""
        return {"file": self.file, "line": self.line, "function": self.function,
                "code": self.code}


@dataclasses.dataclass(frozen=True)
class InngestFunction:
    """A function found in a target: its id, triggers, and which runner holds it."""

    id: str
    name: str
    target: str
    triggers: tuple[Trigger, ...]
    crons: tuple[str, ...]
    file: str | None
    line: int | None
    runner: int
    index: int

    def to_json(self) -> dict[str, Any]:
        """The function as the JSON report lists it."""
        return {"id": self.id, "name": self.name, "target": self.target,
                "triggers": [{"event": t.event, "expression": t.expression}
                             for t in self.triggers],
                "crons": list(self.crons), "file": self.file, "line": self.line}


@dataclasses.dataclass(frozen=True)
class FunctionRun:
    """One function run on one event."""

    function: str
    target: str
    event: str
    status: FunctionStatus
    output: Any = None
    error: str = ""
    """The exception's last line (`KeyError: 'amount'`), or why the run was stopped."""
    traceback: tuple[Frame, ...] = ()
    """The frames in the project's own code, outermost first."""
    printed: tuple[str, ...] = ()
    stubbed: tuple[str, ...] = ()
    """Steps (waits, invokes) that had no stub and got null."""
    duration_ms: float = 0.0
    file: str | None = None
    """Where a failure points: the deepest frame of the project's code, else the function."""
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The run as the JSON report shows it."""
        return {"function": self.function, "target": self.target, "event": self.event,
                "status": self.status.value, "output": self.output,
                "error": self.error or None,
                "traceback": [frame.to_json() for frame in self.traceback],
                "printed": list(self.printed), "stubbed": list(self.stubbed),
                "duration_ms": round(self.duration_ms, 3)}

    def snapshot(self) -> dict[str, Any]:
        """What a snapshot keeps of the run (--snapshot-functions): nothing that varies."""
        kept: dict[str, Any] = {"function": self.function, "event": self.event,
                                "status": self.status.value, "output": self.output}
        if self.error:
            kept["error"] = self.error
        return kept


@dataclasses.dataclass(frozen=True)
class FunctionOptions:
    """How functions run and what the events must do, from the config and the flags."""

    steps: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Step id → the value the step gives instead of running (or waiting)."""
    timeout: float = 5.0
    """Seconds per function run."""
    must_reach: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    """Event-name pattern → ids of functions events matching it must trigger."""
    unhandled: Sequence[str] = ()
    """Event-name patterns no function needs to handle (no no-function-triggered)."""
    source: str = "the configuration"
    """Where the options came from, for messages."""


class FunctionStage:
    """The discovered functions and their runners, for one whole run; close it at the end."""

    def __init__(self, runners: list[RunnerProcess], functions: list[InngestFunction],
                 options: FunctionOptions) -> None:
        self.runners = runners
        self.functions = functions
        self.options = options
        self.lock = threading.Lock()
        self.cwd = Path.cwd()

    @classmethod
    def start(cls, targets: Sequence[tuple[str, Path | None]], *, root: Path,
              python: str | None, options: FunctionOptions) -> FunctionStage:
        """Start the runners, load the targets, and check the triggers and the options.
        Each target is (as written, its file when it is a JavaScript/TypeScript one)."""
        runners = [RunnerProcess(launch, root)
                   for launch in launches(targets, root=root, python=python)]
        stage = cls(runners, [], options)
        try:
            for number, runner in enumerate(runners):
                stage.functions += [dataclasses.replace(function, file=stage._path(function.file))
                                    for function in _discover(runner, number, python)]
            stage._validate()
        except BaseException:
            stage.close()
            raise
        return stage

    def close(self) -> None:
        """End every runner."""
        for runner in self.runners:
            runner.close()

    def check(self, payload: Any) -> tuple[list[Finding], list[FunctionRun]]:
        """Run every function each event of the payload triggers; the findings and the runs."""
        events = payload if isinstance(payload, list) else [payload]
        findings: list[Finding] = []
        runs: list[FunctionRun] = []
        with self.lock:
            for index, event in enumerate(events):
                where = f"/{index}/name" if isinstance(payload, list) else "/name"
                found, ran = self._check_event(event, where)
                findings += found
                runs += ran
        return findings, runs

    def _check_event(self, event: Any, where: str) -> tuple[list[Finding], list[FunctionRun]]:
        name = event.get("name") if isinstance(event, dict) else None
        name = name if isinstance(name, str) else ""
        findings: list[Finding] = []
        runs: list[FunctionRun] = []
        triggered: set[str] = set()
        unknown: list[tuple[InngestFunction, Match]] = []
        misses: dict[str, str] = {}
        for function in self.functions:
            matches = [match(trigger, event) for trigger in function.triggers]
            if any(m.matched for m in matches):
                triggered.add(function.id)
                run = self._run(function, event, name)
                runs.append(run)
                findings += _run_findings(function, run, where, self.options.timeout)
            elif any(m.matched is None for m in matches):
                unknown.append((function, next(m for m in matches if m.matched is None)))
            else:
                misses[function.id] = next((m.reason for m in matches if m.reason), "") or \
                    _listing("its triggers are", [t.event for t in function.triggers],
                             function.crons)
        for function, found in unknown:
            findings.append(finding(
                "trigger-unknown", f"'{name}' may or may not run {function.id}: {found.reason}",
                path=where, hint="simplify the expression, or check it in the Inngest "
                                 "dashboard"))
        if not triggered and not unknown and \
                not any(name_matches(p, name) for p in self.options.unhandled):
            findings.append(finding(
                "no-function-triggered",
                f"'{name}' triggers none of the {len(self.functions)} functions",
                path=where, hint="if nothing should handle it, list it in [functions] "
                                 "unhandled-events; else fix the event name or a trigger"))
        for pattern, required in self.options.must_reach.items():
            if not name_matches(pattern, name):
                continue
            for function_id in required:
                if function_id not in triggered:
                    why = misses.get(function_id, "its expression could not be evaluated")
                    findings.append(finding(
                        "function-not-triggered",
                        f"'{name}' must reach {function_id} ([functions.must-reach] "
                        f"\"{pattern}\"), but does not: {why}",
                        path=where, hint="fix the event the transform sends, or the "
                                         "function's trigger"))
        return findings, runs

    def _run(self, function: InngestFunction, event: Any, name: str) -> FunctionRun:
        runner = self.runners[function.runner]
        timeout = self.options.timeout
        defined = function.file
        runner.ensure_loaded()
        started = time.perf_counter()
        try:
            answer = runner.run(function.index, event, dict(self.options.steps), timeout)
        except RunnerStopped as stopped:
            return FunctionRun(
                function.id, function.target, name,
                FunctionStatus.TIMED_OUT if stopped.timed_out else FunctionStatus.FAILED,
                error=f"stopped after {timeout:g} s" if stopped.timed_out else stopped.detail,
                duration_ms=(time.perf_counter() - started) * 1000, file=defined,
                line=function.line)
        elapsed = (time.perf_counter() - started) * 1000
        error = answer.get("error")
        frames = tuple(self._frame(frame) for frame in error["frames"]) if error else ()
        stubbed = tuple(answer.get("stubbed") or ())
        status = FunctionStatus.FAILED if error else \
            FunctionStatus.STUBBED_WAIT if stubbed else FunctionStatus.COMPLETED
        deepest = frames[-1] if frames else None
        return FunctionRun(
            function.id, function.target, name, status, output=answer.get("output"),
            error=error["message"] if error else "", traceback=frames,
            printed=tuple(answer.get("printed") or ()), stubbed=stubbed, duration_ms=elapsed,
            file=deepest.file if deepest else defined,
            line=deepest.line if deepest else function.line)

    def _frame(self, frame: Mapping[str, Any]) -> Frame:
        code = frame["code"] or linecache.getline(frame["file"], frame["line"]).strip()
        return Frame(self._path(frame["file"]) or frame["file"], frame["line"],
                     frame["function"], code)

    def _path(self, file: str | None) -> str | None:
        """A file as shown and annotated: relative to the working folder when inside it."""
        if file is None:
            return None
        path = Path(file)
        try:
            return path.relative_to(self.cwd).as_posix()
        except ValueError:
            return str(path)

    def _validate(self) -> None:
        for function in self.functions:
            for trigger in function.triggers:
                problem = pattern_problem(trigger.event)
                if problem:
                    raise InputError(f"{function.target}: function {function.id}: trigger "
                                     f"'{trigger.event}': {problem}",
                                     hint="e.g. 'dodo/*' or 'dodo/payment.*'")
                problem = cel_problem(trigger.expression) if trigger.expression else ""
                if problem:
                    raise InputError(f"{function.target}: function {function.id}: {problem}",
                                     hint=CEL_HINT)
        known = [function.id for function in self.functions]
        source = self.options.source
        for pattern in [*self.options.must_reach, *self.options.unhandled]:
            problem = pattern_problem(pattern)
            if problem:
                raise InputError(f"{source}: functions: '{pattern}': {problem}",
                                 hint="e.g. 'dodo/*' or 'dodo/payment.*'")
        for pattern, required in self.options.must_reach.items():
            for function_id in required:
                if function_id not in known:
                    raise InputError(f"{source}: functions.must-reach.\"{pattern}\": no "
                                     f"function has the id '{function_id}'",
                                     hint="the functions are: " + ", ".join(known))


def _discover(runner: RunnerProcess, number: int, python: str | None) -> list[InngestFunction]:
    """Load one runner's targets: its functions, or an InputError saying what is wrong."""
    launch = runner.launch
    try:
        answer = runner.load()
    except RunnerStopped as stopped:
        raise InputError(f"{', '.join(launch.shown)}: {stopped.detail}",
                         hint="run the runner's command yourself to see the whole error: "
                              + " ".join(launch.command)) from None
    shown = dict(zip(launch.targets, launch.shown, strict=True))
    if not answer["ok"]:
        raise _load_error(answer, launch, shown.get(answer["target"], answer["target"]),
                          python)
    return [InngestFunction(
        id=item["id"], name=item["name"], target=shown[item["target"]],
        triggers=tuple(Trigger(item["id"], t["event"], t["expression"] or None)
                       for t in item["triggers"]),
        crons=tuple(item["crons"]), file=item["file"], line=item["line"], runner=number,
        index=index) for index, item in enumerate(answer["functions"])]


def _load_error(answer: Mapping[str, Any], launch: Launch, target: str,
                python: str | None) -> InputError:
    """The message and the fix for a target a runner could not load."""
    problem = answer["problem"]
    if launch.runtime == "node":
        if problem == "sdk":
            return InputError(f"{target}: cannot load @inngest/test: {answer['error']}",
                              hint=f"in {launch.cwd}: npm install --save-dev inngest "
                                   "@inngest/test")
        if problem == "import":
            return InputError(f"{target}: cannot import it: {answer['error']}",
                              hint="run it with node to see the whole error")
        return InputError(f"{target}: exports no Inngest function",
                          hint="export the functions createFunction made (or an array of "
                               "them) from the file")
    if problem == "sdk":
        return InputError(f"{target}: the inngest package is not installed for "
                          f"{launch.command[0]}",
                          hint="pip install inngest into the project's environment, or name "
                               "the project's Python with --python")
    if problem == "sdk-version":
        return InputError(f"{target}: the inngest package for {launch.command[0]} has no "
                          f"experimental.mocked ({answer['error']})",
                          hint="--functions needs inngest 0.5 or later: pip install -U "
                               "'inngest>=0.5'")
    if problem == "import":
        return InputError(f"{target}: cannot import {answer['module']}: {answer['error']}",
                          hint=f"it is imported with {launch.cwd} first on sys.path, as pytest "
                               "imports a rootdir" + ("" if python else
                                                      "; --python names another interpreter"))
    if problem == "attribute":
        return InputError(f"{target}: module {answer['module']} has no attribute "
                          f"{answer['attribute']}", hint=TARGET_HINT)
    if problem == "type":
        return InputError(f"{target}: {answer['attribute']} is a {answer['kind']}, not an "
                          "Inngest client, function or list of functions", hint=TARGET_HINT)
    if answer["kind"] == "client":
        return InputError(f"{target}: no function was made with this client in the modules "
                          "imported so far",
                          hint="import the modules that define them from the client's module, "
                               "or name a list of the functions (module:attribute)")
    return InputError(f"{target}: the list holds no function", hint=TARGET_HINT)


def _listing(lead: str, events: Sequence[str], crons: Sequence[str]) -> str:
    items = [f"'{event}'" for event in events] + [f"cron '{cron}'" for cron in crons]
    return f"{lead} {', '.join(items)}" if items else "it has no trigger"


def _run_findings(function: InngestFunction, run: FunctionRun, where: str,
                  timeout: float) -> list[Finding]:
    """function-failed or function-timeout for a run that did not complete."""
    place = f" ({run.file}:{run.line})" if run.file and run.line else ""
    if run.status is FunctionStatus.FAILED:
        return [finding("function-failed",
                        f"{function.id} failed on '{run.event}': {run.error}{place}",
                        path=where, line=run.line, file=run.file or "",
                        hint="its traceback and what it printed are shown with the result")]
    if run.status is FunctionStatus.TIMED_OUT:
        return [finding("function-timeout",
                        f"{function.id} ran past {timeout:g} s on '{run.event}' and was "
                        f"stopped{place}",
                        path=where, line=run.line, file=run.file or "",
                        hint="a loop that never ends, or a wait on the network; if it is just "
                             "slow, raise [functions] timeout")]
    return []

