"""`test --watch` and `run --watch`: the first run in full, then each re-run as what changed
(newly failing, fixed, output changed) and the summary; Ctrl-C ends with the last summary."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..errors import ExitCode
from ..models import Result, Status
from ..rules import Severity
from ..sources import shown
from ..watch import Delta, Dependencies, Kind, Round, Setup, WatchSession, follow
from .interrupt import interruptible
from .output import Output, text
from .render import Detail, change_lines, print_details, print_run, print_suite, summary_line

DELTA_STYLE = {Kind.FAILING: ("✗", "bold red"), Kind.STILL_FAILING: ("✗", "red"),
               Kind.FIXED: ("✓", "green"), Kind.CHANGED: ("~", "yellow"),
               Kind.NEW: ("+", "cyan"), Kind.REMOVED: ("-", "dim")}
FILES_NAMED = 3
"""How many changed files a round's heading names before counting the rest."""


def watch_test(setup: Callable[[], Setup], output: Output, *, show_output: bool,
               detail: Detail) -> int:
    """Run the plan, then re-run what each change affects until Ctrl-C (exit 130)."""
    from ..suite import SuiteReport

    def first(round_: Round) -> None:
        print_suite(output.out, SuiteReport(round_.results, round_.seconds),
                    show_output=show_output, detail=detail)

    def again(round_: Round) -> None:
        console = output.out
        console.print()
        print_changes(output, console, round_)
        if detail is not Detail.SUMMARY:
            failed = [r for r in round_.reran if r.status in (Status.FAILED, Status.ERROR)]
            print_details(console, round_.reran if show_output else failed,
                          show_output=show_output)
        console.print()
        console.print(summary_line(round_.summary, round_.seconds), soft_wrap=True)

    def last(round_: Round) -> None:
        output.out.print()
        output.out.print(summary_line(round_.summary, round_.seconds), soft_wrap=True)

    return _watch(setup, output, first=first, again=again, last=last)


def watch_run(setup: Callable[[], Setup], output: Output, *, request: bool) -> int:
    """`run` on every change: the payload on stdout, what changed and findings on stderr."""

    def first(round_: Round) -> None:
        print_run(output, round_.results[0], request=request)

    def again(round_: Round) -> None:
        output.err.print()
        print_changes(output, output.err, round_)
        if round_.error is None:
            print_run(output, round_.results[0], request=request)

    def last(round_: Round) -> None:
        output.err.print(summary_line(round_.summary, round_.seconds), soft_wrap=True)

    return _watch(setup, output, first=first, again=again, last=last)


def _watch(setup: Callable[[], Setup], output: Output, *, first: Callable[[Round], None],
           again: Callable[[Round], None], last: Callable[[Round], None]) -> int:
    with interruptible(raising=False) as cancel:
        session = WatchSession(setup, cancel=cancel)
        latest = session.first()
        first(latest)
        announced = False

        def ready(deps: Dependencies) -> None:
            nonlocal announced
            if not announced:
                announced = True
                files = _count(len(deps.pairs) + len(deps.replan), "file")
                folders = _count(len(deps.folders), "folder")
                output.err.print(text(f"watching {files} in {folders}; Ctrl-C stops",
                                      style="dim"), soft_wrap=True)

        def show(round_: Round) -> None:
            nonlocal latest
            latest = round_
            again(round_)

        try:
            follow(session, on_round=show, on_ready=ready)
        except KeyboardInterrupt:
            last(latest)
        finally:
            session.close()
    return ExitCode.INTERRUPTED  # watching ends only when interrupted


def print_changes(output: Output, console: Console, round_: Round) -> None:
    """A round's heading, its error if it could not run, and each pair that changed."""
    console.print(heading(round_), soft_wrap=True)
    if round_.error is not None:
        output.error(round_.error.message, round_.error.hint)
        console.print(text("the previous results stand until it is fixed", style="dim"),
                      soft_wrap=True)
    for delta in round_.deltas:
        console.print(delta_line(delta), soft_wrap=True)
        for line in change_lines(delta.changes):
            console.print(line, soft_wrap=True)


def heading(round_: Round) -> Text:
    """'run 3: payment.js changed; re-ran 9 of 30 pairs in 4 ms'."""
    files = _names(round_.changed)
    line = text(f"run {round_.number}: {files} changed", style="bold")
    if round_.error is None:
        line.append_text(text(f"; re-ran {len(round_.reran)} of "
                              f"{_count(round_.total, 'pair')} in "
                              f"{round_.seconds * 1000:.0f} ms"))
    return line


def _names(paths: Sequence[Path]) -> str:
    names = [str(shown(path)) for path in paths]
    if len(names) > FILES_NAMED:
        return ", ".join(names[:FILES_NAMED]) + f" and {len(names) - FILES_NAMED} more"
    return ", ".join(names) or "nothing"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def delta_line(delta: Delta) -> Text:
    """'✗ newly failing: payment.js × payment.succeeded (js-exception)'."""
    mark, style = DELTA_STYLE[delta.kind]
    result = delta.result
    line = text(f"{mark} {delta.kind.value}: ", style=style)
    line.append_text(text(f"{result.transform} × {result.sample}"))
    line.append_text(text(_why(result), style="dim"))
    return line


def _why(result: Result) -> str:
    if result.status in (Status.FAILED, Status.ERROR):
        codes = dict.fromkeys(f.code for f in result.findings if f.severity is Severity.ERROR)
        return f" ({' '.join(codes) or 'warnings, strict'})"
    return f" ({result.status.value})"
