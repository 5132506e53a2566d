"""Rich rendering of `test`, `run`, `fuzz`, `rules` and `samples` for people."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from ..models import ConsoleLine, Result, Status
from ..report import SEVERITY_MARK, Summary
from ..rules import Finding, Rule, Severity
from .layout import Column, print_rows
from .output import Output, animated, text

if TYPE_CHECKING:
    from ..library import Sample
    from ..snapshots import Change, SnapshotStore
    from ..suite import SuiteReport

STATUS_STYLE = {
    Status.PASSED: "green", Status.FAILED: "bold red", Status.ERROR: "bold magenta",
    Status.CANCELLED: "cyan", Status.SKIPPED: "dim",
}
SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
CHANGE_STYLE = {"added": "green", "removed": "red", "changed": "yellow"}
SAMPLES_LISTED = 5
"""How many sample names a group of identical findings lists before counting the rest."""


class Detail(str, enum.Enum):
    """How much of a `test` run the text report shows."""

    ALL = "all"
    FAILURES = "failures"
    """Only the rows and details of failed and errored pairs."""
    SUMMARY = "summary"
    """Only the summary line."""


def print_suite(console: Console, report: SuiteReport, *, show_output: bool,
                detail: Detail = Detail.ALL) -> None:
    """The text report of `test`: a table per transform, grouped details, the summary."""
    if detail is not Detail.SUMMARY:
        if report.functions is not None:
            from .function_views import print_discovered

            print_discovered(console, report.functions)
            console.print()
        shown = [r for r in report.results if r.status is not Status.SKIPPED
                 and (detail is Detail.ALL or r.status in (Status.FAILED, Status.ERROR))]
        for index, transform in enumerate(dict.fromkeys(r.transform for r in shown)):
            if index:
                console.print()
            results_table(console, transform, [r for r in shown if r.transform == transform])
        print_details(console, shown, show_output=show_output)
        if shown:
            console.print()
    console.print(summary_line(report.summary, report.seconds), soft_wrap=True)


def results_table(console: Console, transform: str, results: Sequence[Result]) -> None:
    """A row per sample (one row when every sample ended the same way for the same reason,
    as when the transform does not compile)."""
    groups = _groups(results)
    if len(groups) == 1 and len(results) > 1 and results[0].status is Status.ERROR:
        rows = [[text(f"all {len(results)} samples"), _status(results[0].status),
                 _codes(results[0].findings), text("")]]
    else:
        rows = [[text(r.sample), _status(r.status), _codes(r.findings),
                 text(f"{r.duration_ms:.1f}")] for r in results]
    columns = [Column("Sample"), Column("Status"), Column("Findings", prose=True),
               Column("ms", justify="right", optional=True)]
    if any(r.functions is not None for r in results):  # --functions: what ran, before ms
        from .function_views import functions_cell

        columns.insert(3, Column("Functions", prose=True))
        for row, result in zip(rows, results, strict=False):
            row.insert(3, functions_cell(result.functions))
    print_rows(console, columns, rows, title=transform)


def _status(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE[status])


def _codes(findings: Sequence[Finding]) -> Text:
    """Each code once, with how many times it was found."""
    counted: dict[str, tuple[Severity, int]] = {}
    for item in findings:
        severity, count = counted.get(item.code, (item.severity, 0))
        counted[item.code] = (severity, count + 1)
    codes = Text()
    for code, (severity, count) in counted.items():
        if codes:
            codes.append(" ")
        codes.append(code + (f" ×{count}" if count > 1 else ""), style=SEVERITY_STYLE[severity])
    return codes


def _signature(result: Result, shown: Sequence[Finding]) -> tuple[Any, ...]:
    """What makes two results' details the same: status and findings, whatever the sample and
    its event type."""
    names = {result.sample, result.source, result.event_type}
    words = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if n)
    pattern = re.compile(rf"(?<![\w-])(?:{words})(?![\w-])")  # whole names, never a letter

    def plain(value: str) -> str:
        return pattern.sub("<…>", value) if words else value

    return (result.transform, result.status,
            tuple((f.code, f.severity, f.path, plain(f.message), plain(f.hint)) for f in shown))


def _groups(results: Sequence[Result], show_output: bool = False) -> list[list[Result]]:
    grouped: dict[tuple[Any, ...], list[Result]] = {}
    for result in results:
        grouped.setdefault(_signature(result, _shown(result, show_output)), []).append(result)
    return list(grouped.values())


def _shown(result: Result, show_output: bool) -> list[Finding]:
    if show_output:
        return list(result.findings)
    return [f for f in result.findings if f.severity is not Severity.INFO]


def print_details(console: Console, results: Sequence[Result], *, show_output: bool) -> None:
    """Findings under the results that have something to say; results with the same findings
    (modulo the sample) are one block listing their samples. With show_output, every request
    and console line is shown, pair by pair."""
    blocks = [[r] for r in results] if show_output else _groups(results)
    for block in blocks:
        first = block[0]
        findings = _shown(first, show_output)
        failed = first.status in (Status.FAILED, Status.ERROR)
        has_output = show_output and first.request is not None
        from .function_views import run_lines, shows_runs

        runs = shows_runs(first.functions, show_output)
        if not (findings or failed or has_output or first.changes or first.triggers or runs):
            continue
        console.print()
        console.print(_block_head(block), soft_wrap=True)
        if findings:
            print_findings(console, findings if len(block) == 1 else
                           [_generic(f, first) for f in findings])
        for line in change_lines(first.changes):
            console.print(line, soft_wrap=True)
        if first.triggers is not None:
            functions = ", ".join(m.function + ("?" if m.matched is None else "")
                                  for m in first.triggers) or "none"
            console.print(text(f"  → functions: {functions}", style="cyan"), soft_wrap=True)
        if runs and first.functions:
            for line in run_lines(first.functions, show_output=show_output):
                console.print(line, soft_wrap=True)
        if (failed or show_output) and first.console:
            if len(block) > 1:  # what each sample printed differs: the first one's, named
                console.print(text(f"  console of {first.sample}:", style="dim"),
                              soft_wrap=True)
            for line in console_lines(first.console):
                console.print(line, soft_wrap=True)
        if has_output and first.request is not None:
            from .. import jsonio

            console.print(json_text(jsonio.dumps(first.request.to_json(), indent=2)),
                          soft_wrap=True)


def _block_head(block: Sequence[Result]) -> Text:
    first = block[0]
    if len(block) == 1:
        head = text(f"{first.transform} × {first.sample}: ", style="bold")
    else:
        names = ", ".join(r.sample for r in block[:SAMPLES_LISTED])
        more = f" and {len(block) - SAMPLES_LISTED} more" if len(block) > SAMPLES_LISTED else ""
        head = text(f"{first.transform} × {len(block)} samples ({names}{more}): ", style="bold")
    head.append(first.status.value, style=STATUS_STYLE[first.status])
    return head


def _generic(item: Finding, result: Result) -> Finding:
    """A finding of a group, with this sample's name taken out of its message."""
    import dataclasses

    message = item.message
    for name in sorted({result.source, result.sample, result.event_type}, key=len,
                       reverse=True):
        if name:
            message = message.replace(name, "<type>" if name == result.event_type
                                      else "<sample>")
    return dataclasses.replace(item, message=message)


def print_run(output: Output, result: Result, *, request: bool) -> None:
    """`run`'s output: console lines and findings on stderr, the outgoing payload (or the
    whole request) on stdout unless cancelled or failed to run."""
    for line in console_lines(result.console, indent=""):
        output.err.print(line, soft_wrap=True)
    if result.findings:
        print_findings(output.err, result.findings)
    if result.functions is not None:
        from .function_views import functions_cell, run_lines

        head = text("functions: ", style="bold")
        head.append_text(functions_cell(result.functions))
        output.err.print(head, soft_wrap=True)
        for line in run_lines(result.functions, show_output=False):
            output.err.print(line, soft_wrap=True)
    if result.request is not None and result.status not in (Status.CANCELLED, Status.ERROR):
        output.json(result.request.to_json() if request else result.request.payload)


def json_text(value: str) -> Text:
    """JSON shown to people: highlighted, each of its lines escaped as text() escapes a value
    (JSON holds no raw line break inside a string, so its own line breaks are kept), and
    printed with soft_wrap so nothing is cut."""
    from rich.highlighter import JSONHighlighter

    return JSONHighlighter()(Text("\n").join(text(line) for line in value.split("\n")))


def print_findings(console: Console, findings: Sequence[Finding]) -> None:
    """Each finding as 'mark code path' with its message beside it and its hint under it,
    wrapped at spaces only: a code, a path or a hint's example is never cut."""
    heads = []
    for item in findings:
        head = text(f"  {SEVERITY_MARK[item.severity]} {item.code}",
                    style=SEVERITY_STYLE[item.severity])
        if item.path:
            head.append_text(text(f" {item.path}", style="bold"))
        heads.append(head)
    column = max((h.cell_len for h in heads), default=0) + 1
    for item, head in zip(findings, heads, strict=True):
        indent = column
        if column > console.width * 2 // 5:  # long paths: each message goes under its head
            console.print(head, soft_wrap=True)
            head, indent = Text(), 6
        else:
            head.append(" " * (column - head.cell_len - 1))
        lines = [*_wrapped(item.message, console.width, indent),
                 *(_wrapped(f"hint: {item.hint}", console.width, indent) if item.hint else [])]
        hint_from = len(_wrapped(item.message, console.width, indent))
        for index, line in enumerate(lines):
            shown = head + Text(" ") if index == 0 and head else Text(" " * indent)
            shown.append_text(text(line, style="dim" if index >= hint_from else ""))
            console.print(shown, soft_wrap=True)


def _wrapped(value: str, width: int, indent: int) -> list[str]:
    import textwrap

    lines: list[str] = []
    for paragraph in value.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, max(width - indent, 20), break_long_words=False,
                               break_on_hyphens=False) or [""]
    return lines


def console_lines(lines: Sequence[ConsoleLine], *, indent: str = "  ") -> list[Text]:
    """What the transform logged, one line each."""
    return [text(f"{indent}console.{line.level}: {line.text}", style="dim") for line in lines]


def change_lines(changes: Sequence[Change], *, indent: str = "    ") -> list[Text]:
    """Snapshot differences, one per line: + added, - removed, ~ old → new."""
    return [text(f"{indent}{change}", style=CHANGE_STYLE[change.kind]) for change in changes]


def print_snapshots(console: Console, store: SnapshotStore, orphans: Sequence[Path],
                    pruned: Sequence[Path]) -> None:
    """What --update-snapshots wrote and changed, and the snapshots nothing matched."""
    for path in store.written:
        console.print(text(f"snapshot written: {path}", style="green"), soft_wrap=True)
    for path, changes in store.updated:
        console.print(text(f"snapshot updated: {path}", style="yellow"), soft_wrap=True)
        for line in change_lines(changes):
            console.print(line, soft_wrap=True)
    for path in pruned:
        console.print(text(f"snapshot pruned: {path}", style="red"), soft_wrap=True)
    if orphans:
        console.print(text(f"{len(orphans)} snapshot(s) matched by no transform × sample "
                           "(--prune deletes them):", style="yellow"), soft_wrap=True)
        for path in orphans:
            console.print(text(f"  {path}"), soft_wrap=True)


def summary_line(summary: Summary, seconds: float) -> Text:
    """'3 passed, 1 failed, … in 0.12 s', coloured by outcome."""
    line = Text()
    parts: list[tuple[str, str]] = [
        (f"{summary.passed} passed", "green"),
        (f"{summary.failed} failed", "bold red" if summary.failed else ""),
        (_plural(summary.errors, "error"), "bold magenta" if summary.errors else ""),
        (f"{summary.cancelled} cancelled", ""),
        (f"{summary.skipped} skipped", "dim"),
        (_plural(summary.warnings, "warning"), "yellow" if summary.warnings else ""),
    ]
    for index, (part, style) in enumerate(parts):
        if index:
            line.append(", ")
        line.append(part, style=style)
    line.append(f" in {seconds:.2f} s")
    return line


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def print_samples(console: Console, samples: Sequence[Sample], root: Path) -> None:
    """The event-type samples, then the variants, with what each is and where its file is."""
    first = True
    for variant, title, files, last in (
            (False, "Event types", "<type>.json", "What it is"),
            (True, "Variants", "variants/<name>.json", "What it exercises")):
        chosen = [s for s in samples if s.variant is variant]
        if not chosen:
            continue
        if not first:
            console.print()
        first = False
        rows = [[text(s.name), text(s.event_type if variant else s.family), text(s.about)]
                for s in chosen]
        print_rows(console, [Column("Name" if variant else "Type"),
                             Column("Event type" if variant else "Family"),
                             Column(last, prose=True)], rows,
                   title=f"{title} ({len(chosen)}): {root}/{files}")


def print_rules(console: Console, rules: Sequence[Rule]) -> None:
    """The catalogue: code, severity, group and summary."""
    rows = [[text(r.code), text(r.severity.value, style=SEVERITY_STYLE[r.severity]),
             text(r.group), text(r.summary)] for r in rules]
    print_rows(console, [Column("Code"), Column("Severity"), Column("Group"),
                         Column("What it means", prose=True)], rows)


def print_rule(console: Console, rule: Rule) -> None:
    """One rule in full: summary, explanation, example fix."""
    head = Text(rule.code, style="bold")
    head.append(f"  [{rule.severity.value}]", style=SEVERITY_STYLE[rule.severity])
    console.print(head)
    console.print(Text(rule.summary))
    console.print()
    console.print(Text(rule.explanation))
    if rule.example:
        console.print()
        console.print(Text("Example fix:", style="bold"))
        console.print(Text(rule.example), soft_wrap=True)


def print_fuzz(console: Console, reports: Sequence[Any], *, seed: int) -> None:
    """The fuzz section: per transform and event type, payloads tried and failures by code;
    then each minimal reproducer as its difference from the bundled sample."""
    console.print()
    if not reports:
        console.print(text("Fuzz: no event type to fuzz (the transforms cancel or pass "
                           "through every bundled sample)", style="yellow"), soft_wrap=True)
        return
    rows = [[text(r.transform), text(r.event_type), text(str(r.tried)),
             text(", ".join(f"{code}: {count}" for code, count in r.failures.items()) or "none",
                  style="bold red" if r.failures else "green")] for r in reports]
    print_rows(console, [Column("Transform"), Column("Event type"),
                         Column("Tried", justify="right"), Column("Failures", prose=True)],
               rows, title=f"Fuzz (seed {seed})")
    already: dict[tuple[str, str], list[Any]] = {}  # (transform, code) → its reports
    for report in reports:
        for reproducer in report.reproducers:
            if not reproducer.changes:  # nothing to reduce: one line for all such types
                already.setdefault((report.transform, reproducer.code), []).append(
                    (report, reproducer))
                continue
            console.print()
            head = text(f"{report.transform} × {report.event_type}: ", style="bold")
            head.append_text(text(reproducer.code, style="red"))
            head.append_text(text(f"  {reproducer.message}"))
            console.print(head, soft_wrap=True)
            console.print(text("  smallest failing change to the bundled sample:"),
                          soft_wrap=True)
            for line in change_lines(reproducer.changes):
                console.print(line, soft_wrap=True)
            if reproducer.saved is not None:
                console.print(text(f"  saved: {reproducer.saved}", style="cyan"),
                              soft_wrap=True)
    for (transform, code), found in already.items():
        console.print()
        kinds = "event type" if len(found) == 1 else "event types"
        head = text(f"{transform}: ", style="bold")
        head.append_text(text(code, style="red"))
        head.append_text(text(f" on the bundled sample itself, for {len(found)} {kinds} "
                              f"(dodo-inngest test -t {transform} shows each): "
                              + ", ".join(report.event_type for report, _ in found)))
        console.print(head)  # prose with names: wrapped between them, never cut
        if len(found) == 1:
            console.print(text(f"  {found[0][1].message}"), soft_wrap=True)
        for _, reproducer in found:
            if reproducer.saved is not None:
                console.print(text(f"  saved: {reproducer.saved}", style="cyan"),
                              soft_wrap=True)


class FuzzProgress:
    """A progress bar over fuzz runs on a terminal (silent when piped)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def start(self, total: int) -> None:
        """Show the bar for total transform × event type runs."""
        if not animated(self.console) or not total:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("fuzzing {task.description}", markup=False),
                                 BarColumn(), MofNCompleteColumn(), console=self.console,
                                 transient=True)
        self.progress.start()
        self.task = self.progress.add_task("", total=total)

    def advance(self, report: Any) -> None:
        """One run finished."""
        if self.progress is not None:
            self.progress.update(self.task, advance=1, description=report.event_type)

    def stop(self) -> None:
        """Remove the bar."""
        if self.progress is not None:
            self.progress.stop()
