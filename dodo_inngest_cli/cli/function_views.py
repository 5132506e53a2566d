"""How the project's own function runs (--functions) look in `test`'s and `run`'s text."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from ..functions import FunctionRun, FunctionStatus, InngestFunction
from .output import text

RUN_STYLE = {FunctionStatus.COMPLETED: "green", FunctionStatus.FAILED: "bold red",
             FunctionStatus.TIMED_OUT: "bold magenta", FunctionStatus.STUBBED_WAIT: "yellow"}
RUN_MARK = {FunctionStatus.COMPLETED: "✓", FunctionStatus.FAILED: "✗",
            FunctionStatus.TIMED_OUT: "✗", FunctionStatus.STUBBED_WAIT: "✓"}
NOTE = {FunctionStatus.TIMED_OUT: " (timed out)", FunctionStatus.STUBBED_WAIT: " (stubbed wait)"}
OUTPUT_SHOWN = 200
"""Characters of a function's output shown in text (the JSON report has all of it)."""


def functions_cell(runs: Sequence[FunctionRun] | None) -> Text:
    """The Functions column: each function that ran, marked by how it ended; `none` when the
    events triggered nothing; empty when functions did not run (the event was not sent)."""
    if runs is None:
        return Text("")
    if not runs:
        return text("none", style="dim")
    cell = Text()
    for run in runs:
        if cell:
            cell.append(" ")
        cell.append_text(text(f"{RUN_MARK[run.status]} {run.function}{NOTE.get(run.status, '')}",
                              style=RUN_STYLE[run.status]))
    return cell


def shows_runs(runs: Sequence[FunctionRun] | None, show_output: bool) -> bool:
    """Whether a result's runs have details to print: a run that did not simply complete, or
    any run with show_output."""
    return bool(runs) and (show_output or any(
        run.status is not FunctionStatus.COMPLETED for run in runs or ()))


def run_lines(runs: Sequence[FunctionRun], *, show_output: bool) -> list[Text]:
    """Under a result: each run that did not simply complete (every run with show_output),
    with its error, its traceback in the project's code, and what it printed."""
    from .. import jsonio

    lines: list[Text] = []
    for run in runs:
        if run.status is FunctionStatus.COMPLETED and not show_output:
            continue
        head = text(f"  {run.function} ", style="bold")
        head.append_text(text(run.status.value, style=RUN_STYLE[run.status]))
        if run.error:
            head.append_text(text(f": {run.error}"))
        elif show_output:
            output = jsonio.dumps(run.output)
            cut = output if len(output) <= OUTPUT_SHOWN else output[:OUTPUT_SHOWN - 1] + "…"
            head.append_text(text(f" → {cut}"))
        lines.append(head)
        for frame in run.traceback:
            lines.append(text(f"    {frame.file}:{frame.line} in {frame.function}", style="dim"))
            if frame.code:
                lines.append(text(f"      {frame.code}", style="dim"))
        if run.stubbed:
            lines.append(text(f"    null for {', '.join(run.stubbed)} (no stub in "
                              "[functions.steps])", style="yellow"))
        if run.status is not FunctionStatus.COMPLETED or show_output:
            lines += [text(f"    printed: {line}", style="dim") for line in run.printed]
    return lines


def print_discovered(console: Console, functions: Sequence[InngestFunction]) -> None:
    """One line naming the functions found, and those only a cron runs (never run here)."""
    targets = ", ".join(dict.fromkeys(function.target for function in functions))
    line = text(f"functions ({targets}): ", style="bold")
    line.append_text(text(", ".join(f.id for f in functions if f.triggers) or "none "
                          "with an event trigger"))
    crons = [f.id for f in functions if not f.triggers]
    if crons:
        line.append_text(text(f"; cron only, not run: {', '.join(crons)}", style="dim"))
    console.print(line, soft_wrap=True)
