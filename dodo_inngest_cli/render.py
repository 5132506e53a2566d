"""Rich rendering for people: result tables, findings, summaries, the rule catalogue, errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .masking import mask_url
from .models import ConsoleLine, Result, Status
from .report import Summary
from .rules import Finding, Rule, Severity

if TYPE_CHECKING:
    from .forward import Forwarder, Target
    from .library import Sample
    from .sending import Outcome

STATUS_STYLE = {
    Status.PASSED: "green", Status.FAILED: "bold red", Status.ERROR: "bold magenta",
    Status.CANCELLED: "cyan", Status.SKIPPED: "dim",
}
SEVERITY_STYLE = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
SEVERITY_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i"}


def _code(text: str, language: str) -> Any:
    """Syntax-highlighted code (pygments is imported only when code is shown)."""
    from rich.syntax import Syntax

    return Syntax(text, language, background_color="default")


def make_console(*, stderr: bool = False, file: Any = None) -> Console:
    """A console for this run: colour only on a terminal and without NO_COLOR; a file gets
    plain text at a fixed width."""
    if file is not None:
        return Console(file=file, width=100, no_color=True, highlight=False, emoji=False,
                       color_system=None)
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=False)


def print_text_report(console: Console, results: Sequence[Result], summary: Summary,
                      seconds: float, *, show_output: bool) -> None:
    """The whole text report of `test`: tables, details, summary."""
    for index, table in enumerate(results_tables(results)):
        if index:
            console.print()
        console.print(table)
    print_details(console, results, show_output=show_output)
    console.print()
    console.print(summary_line(summary, seconds))


CHANGE_STYLE = {"added": "green", "removed": "red", "changed": "yellow"}


def change_lines(changes: Sequence[Any], *, indent: str = "    ") -> list[Text]:
    """Snapshot differences, one per line: + added, - removed, ~ old → new."""
    return [Text(f"{indent}{change}", style=CHANGE_STYLE[change.kind]) for change in changes]


def print_snapshots(console: Console, store: Any, orphans: Sequence[Path],
                    pruned: Sequence[Path]) -> None:
    """What --update-snapshots wrote and changed, and the snapshots nothing matched."""
    for path in store.written:
        console.print(Text(f"snapshot written: {path}", style="green"), soft_wrap=True)
    for path, changes in store.updated:
        console.print(Text(f"snapshot updated: {path}", style="yellow"), soft_wrap=True)
        for line in change_lines(changes):
            console.print(line, soft_wrap=True)
    for path in pruned:
        console.print(Text(f"snapshot pruned: {path}", style="red"), soft_wrap=True)
    if orphans:
        console.print(Text(f"{len(orphans)} snapshot(s) matched by no transform × sample "
                           "(--prune deletes them):", style="yellow"), soft_wrap=True)
        for path in orphans:
            console.print(f"  {path}", soft_wrap=True, markup=False)


def results_tables(results: Sequence[Result]) -> list[Table]:
    """A table per transform, a row per sample that ran (skipped ones are only counted)."""
    tables: dict[str, Table] = {}
    for result in results:
        if result.status is Status.SKIPPED:
            continue
        table = tables.get(result.transform)
        if table is None:
            table = tables[result.transform] = Table(
                title=result.transform, title_justify="left", title_style="bold",
                show_edge=False, header_style="bold", pad_edge=False, expand=False)
            table.add_column("Sample", no_wrap=True)
            table.add_column("Status", no_wrap=True)
            table.add_column("Findings", overflow="fold")
            table.add_column("ms", justify="right", no_wrap=True)
        codes = Text()
        for item in result.findings:
            if codes:
                codes.append(" ")
            codes.append(item.code, style=SEVERITY_STYLE[item.severity])
        table.add_row(result.sample, Text(result.status.value, style=STATUS_STYLE[result.status]),
                      codes, f"{result.duration_ms:.1f}")
    return list(tables.values())


def findings_grid(findings: Sequence[Finding]) -> Table:
    """Each finding as 'mark code path' beside its message, with the hint under it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for item in findings:
        label = Text(f"  {SEVERITY_MARK[item.severity]} {item.code}",
                     style=SEVERITY_STYLE[item.severity])
        if item.path:
            label.append(f" {item.path}", style="bold")
        message = Text(mask_url(item.message))
        if item.hint:
            message.append(f"\nhint: {mask_url(item.hint)}", style="dim")
        grid.add_row(label, message)
    return grid


def console_lines(lines: Sequence[ConsoleLine], *, indent: str = "  ") -> list[Text]:
    """What the transform logged, one line each."""
    return [Text(f"{indent}console.{line.level}: {line.text}", style="dim") for line in lines]


def print_details(console: Console, results: Sequence[Result], *, show_output: bool) -> None:
    """Findings (and console lines) under each result that has something to say."""
    for result in results:
        notable = [f for f in result.findings if f.severity is not Severity.INFO]
        failed = result.status in (Status.FAILED, Status.ERROR)
        has_output = show_output and result.request is not None
        if not (notable or failed or has_output or result.changes or result.triggers):
            continue
        console.print()
        head = Text(f"{result.transform} × {result.sample}: ", style="bold")
        head.append(result.status.value, style=STATUS_STYLE[result.status])
        console.print(head)
        console.print(findings_grid(result.findings if failed or show_output else notable))
        for line in change_lines(result.changes):
            console.print(line, soft_wrap=True)
        if result.triggers is not None:
            functions = ", ".join(m.function + ("?" if m.matched is None else "")
                                  for m in result.triggers) or "none"
            console.print(Text(f"  → functions: {functions}", style="cyan"), soft_wrap=True)
        if failed or show_output:
            for line in console_lines(result.console):
                console.print(line)
        if has_output and result.request is not None:
            request = result.request.to_json()
            request["url"] = mask_url(request["url"])
            console.print(_code(json.dumps(request, indent=2, ensure_ascii=False), "json"))


def summary_line(summary: Summary, seconds: float) -> Text:
    """'3 passed, 1 failed, … in 0.12 s', coloured by outcome."""
    text = Text()
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
            text.append(", ")
        text.append(part, style=style)
    text.append(f" in {seconds:.2f} s")
    return text


def samples_tables(samples: Sequence[Sample], root: Path) -> list[Table]:
    """The event-type samples, then the variants, with what each is and where its file is."""
    tables: list[Table] = []
    for variant, title, files, last in (
            (False, "Event types", "<type>.json", "What it is"),
            (True, "Variants", "variants/<name>.json", "What it exercises")):
        chosen = [s for s in samples if s.variant is variant]
        if not chosen:
            continue
        table = Table(title=f"{title} ({len(chosen)}): {root}/{files}", title_justify="left",
                      title_style="bold", show_edge=False, header_style="bold", pad_edge=False)
        table.add_column("Name" if variant else "Type", no_wrap=True)
        table.add_column("Event type" if variant else "Family", no_wrap=True)
        table.add_column(last, overflow="fold")
        for sample in chosen:
            table.add_row(sample.name, sample.event_type if variant else sample.family,
                          sample.about)
        tables.append(table)
    return tables


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def rules_table(rules: Sequence[Rule]) -> Table:
    """The catalogue: code, severity, group and summary."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("Code")
    table.add_column("Severity")
    table.add_column("Group")
    table.add_column("What it means", overflow="fold")
    for rule in rules:
        table.add_row(rule.code, Text(rule.severity.value, style=SEVERITY_STYLE[rule.severity]),
                      rule.group, escape(rule.summary))
    return table


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
        console.print(_code(rule.example, "javascript"))


def print_error(console: Console, message: str, hint: str | None) -> None:
    """An error as one plain line, and its hint."""
    line = Text("error: ", style="bold red")
    line.append(mask_url(message))
    console.print(line, soft_wrap=True)
    if hint:
        console.print(Text(f"hint: {mask_url(hint)}", style="dim"), soft_wrap=True)


def print_json(console: Console, document: Any) -> None:
    """A JSON document, indented: coloured on a terminal, plain when piped."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if console.is_terminal and not console.no_color:
        console.print(_code(text, "json"), soft_wrap=True)
    else:
        console.out(text, highlight=False)


SEND_STYLE = {"accepted": "green", "rejected": "bold red", "failed": "bold red",
              "cancelled": "cyan", "error": "bold magenta", "blocked": "yellow",
              "dry-run": "dim"}


def print_send(out: Console, err: Console, outcome: Outcome, target: Target,
               forwarder: Forwarder) -> None:
    """A send for people: findings and problems on stderr; requests, events, summary on stdout."""
    from .sending import dry_run_headers

    for item in outcome.prepared:
        shown = [f for f in item.findings if f.severity is not Severity.INFO or item.blocking]
        if shown:
            head = Text(f"{item.source}: ", style="bold")
            head.append(item.status.value, style=STATUS_STYLE[item.status])
            err.print(head, soft_wrap=True)
            err.print(findings_grid(shown))
    if outcome.blocked:
        count = sum(p.blocking for p in outcome.prepared)
        print_error(err, f"{count} of {len(outcome.prepared)} payloads have error findings; "
                         "nothing was sent", "fix them, or --force to send anyway")
        return
    for item in outcome.prepared:
        if item.stored is not None:
            out.print(Text(f"{item.source}: Inngest stores", style="bold"), soft_wrap=True)
            out.print(_code(json.dumps(item.stored, indent=2, ensure_ascii=False), "json"))
    if outcome.dry_run:
        for request in outcome.planned:
            out.print(Text(f"{request.method} {mask_url(request.url)}", style="bold"),
                      soft_wrap=True)
            for name, value in dry_run_headers(forwarder, target, request).items():
                out.print(f"{name}: {mask_url(value)}", soft_wrap=True, markup=False)
            out.print(_code(json.dumps(request.payload, indent=2, ensure_ascii=False), "json"))
            out.print()
    rows = outcome.rows()
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in ("Source", "Event", "Inngest id", "Status", "Attempts"):
        table.add_column(column, no_wrap=column != "Source", overflow="fold")
    for row in rows:
        table.add_row(Path(row.source).name, row.name, row.event_id,
                      Text(row.status, style=SEND_STYLE[row.status]),
                      str(row.attempts) if row.attempts else "")
    out.print(table)
    for row in rows:
        if row.error:
            print_error(err, f"{row.source}: {row.error}", row.hint or None)
    for sent in outcome.sent:
        if sent.runs_error:
            err.print(Text(f"warning: the events were sent, but their runs could not be looked "
                           f"up: {mask_url(sent.runs_error)}", style="yellow"), soft_wrap=True)
        for event_id, runs in sent.runs.items():
            if runs:
                for run in runs:
                    out.print(f"{event_id}: run {run.get('run_id', '?')} of function "
                              f"{run.get('function_id', '?')}: {run.get('status', '?')}",
                              soft_wrap=True, markup=False)
            else:
                err.print(Text(f"warning: no function run started for {event_id}: is your "
                               "app synced with the Dev Server, and does a function trigger "
                               "on this event name?", style="yellow"), soft_wrap=True)
    counts = outcome.summary()
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    out.print(Text(", ".join(parts) + f" → {target.shown}"), soft_wrap=True)


class ListenView:
    """The listener's live view: a table of recent deliveries on a terminal, a line each when
    piped, and a summary at the end."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.recent: list[Any] = []
        self.counts = {"accepted": 0, "rejected": 0, "forwarded": 0, "forward failed": 0}
        self.live: Any = None
        self.lock = threading.Lock()

    def started(self, address: str, *, verified: bool, capture: Path | None,
                forwarding: str | None) -> None:
        """Say where it listens and what it does with deliveries (first line: the address)."""
        self.console.print(f"listening on {address}", soft_wrap=True, markup=False)
        notes = ["signatures verified" if verified else "signatures NOT verified (no --secret)"]
        notes.append(f"capturing to {capture}" if capture else "not capturing (no --capture)")
        if forwarding:
            notes.append(f"forwarding to {mask_url(forwarding)}")
        self.console.print("; ".join(notes) + ". Ctrl-C stops.", soft_wrap=True, markup=False)
        self.console.file.flush()

    def __enter__(self) -> ListenView:
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def add(self, received: Any) -> None:
        """Record one answered request (called from the listener's threads)."""
        with self.lock:
            if not received.follow_up:
                self.counts["accepted" if received.status < 300 else "rejected"] += 1
            if received.forwarded is not None:
                ok = not received.forwarded.outcome.failing
                self.counts["forwarded" if ok else "forward failed"] += 1
            self.recent = [*self.recent[-19:], received]
            if self.live is not None:
                self.live.update(self._table())
            else:
                self.console.print(_received_line(received), soft_wrap=True, markup=False)
                self.console.file.flush()

    def _table(self) -> Table:
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        for column in ("Time", "Delivery", "Type", "HTTP", "Verified", "Forwarded",
                       "Inngest id"):
            table.add_column(column, no_wrap=True)
        for item in self.recent:
            forwarded = item.forwarded
            table.add_row(item.at[11:23], item.delivery, item.event_type, str(item.status),
                          {True: "yes", False: "NO", None: "-"}[item.verified],
                          forwarded.outcome.value if forwarded else "-",
                          ", ".join(forwarded.ids) if forwarded else item.note)
        return table

    def summary(self) -> None:
        """The totals, once the listener stopped."""
        self.console.print(", ".join(f"{n} {k}" for k, n in self.counts.items()),
                           soft_wrap=True, markup=False)


def _received_line(item: Any) -> str:
    verified = {True: "verified", False: "NOT verified", None: "unverified"}[item.verified]
    line = f"{item.at} {item.status} {item.delivery or '-'} {item.event_type or '-'} {verified}"
    if item.forwarded is not None:
        line += f" forwarded: {item.forwarded.outcome.value}"
        if item.forwarded.ids:
            line += " " + ",".join(item.forwarded.ids)
        if item.forwarded.reason:
            line += f" ({mask_url(item.forwarded.reason)})"
    if item.note:
        line += f" ({item.note})"
    return line


class ReplayView:
    """Replay progress: a bar with rate and ETA on a terminal, problems as they happen, and
    a summary table."""

    def __init__(self, out: Console, err: Console, total: int, target: str) -> None:
        self.out = out
        self.err = err
        self.target = target
        self.counts = {name: 0 for name in ("delivered", "failed", "rejected", "cancelled",
                                            "skipped", "invalid")}
        self.assigned = 0
        self.total = total
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> ReplayView:
        if self.err.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(),
                                     TaskProgressColumn(), TextColumn("{task.speed}/s"),
                                     TimeRemainingColumn(), console=self.err, transient=True)
            self.progress.__enter__()
            self.task = self.progress.add_task("replay", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)

    def add(self, outcome: Any) -> None:
        """Count one outcome; report the ones that need a look."""
        self.counts[outcome.status] += 1
        self.assigned += outcome.assigned_id
        if self.progress is not None:
            self.progress.advance(self.task)
        if outcome.status in ("failed", "rejected", "invalid"):
            self.err.print(f"{outcome.status}: {outcome.delivery}: {mask_url(outcome.reason)}",
                           soft_wrap=True, markup=False, style=SEND_STYLE.get(
                               outcome.status, "bold red"))

    def summary(self, *, interrupted: bool) -> None:
        """The summary table."""
        table = Table(show_edge=False, header_style="bold", pad_edge=False,
                      title=f"replay → {self.target}" + (" (interrupted)" if interrupted
                                                          else ""),
                      title_justify="left")
        for name in self.counts:
            table.add_column(name, justify="right")
        table.add_row(*[str(n) for n in self.counts.values()])
        self.out.print(table)
        if self.assigned:
            self.out.print(f"{self.assigned} event(s) had no id and got one derived from the "
                           "delivery (--no-assign-id keeps them without)", soft_wrap=True)
        if interrupted:
            self.out.print("interrupted: what was in flight finished and is recorded; run the "
                           "same command again to send the rest", soft_wrap=True)


def verify_table(rows: Sequence[dict[str, str]]) -> Table:
    """A row per delivery: its id, where it was, the result and why."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in ("Delivery", "Source", "Result", "Reason"):
        table.add_column(column, overflow="fold")
    style = {"valid": "green", "invalid": "bold red", "unsigned": "yellow",
             "unreadable": "magenta"}
    for row in rows:
        table.add_row(row["delivery"], row["source"],
                      Text(row["result"], style=style[row["result"]]), row["reason"])
    return table


def print_fuzz(console: Console, reports: Sequence[Any], *, seed: int) -> None:
    """The fuzz section: per transform and event type, payloads tried and failures by code;
    then each minimal reproducer as its difference from the bundled sample."""
    console.print()
    table = Table(title=f"Fuzz (seed {seed})", title_justify="left", title_style="bold",
                  show_edge=False, header_style="bold", pad_edge=False)
    for column in ("Transform", "Event type", "Tried", "Failures"):
        table.add_column(column, no_wrap=column in ("Event type", "Tried"), overflow="fold")
    for report in reports:
        failures = Text(", ".join(f"{code}: {count}" for code, count in report.failures.items())
                        or "none", style="bold red" if report.failures else "green")
        table.add_row(report.transform, report.event_type, str(report.tried), failures)
    if not reports:
        console.print(Text("Fuzz: no event type to fuzz (the transforms cancel or pass "
                           "through every bundled sample)", style="yellow"), soft_wrap=True)
        return
    console.print(table)
    for report in reports:
        for reproducer in report.reproducers:
            console.print()
            head = Text(f"{report.transform} × {report.event_type}: ", style="bold")
            head.append(reproducer.code, style="red")
            head.append(f"  {mask_url(reproducer.message)}")
            console.print(head, soft_wrap=True)
            if reproducer.changes:
                console.print(Text("  smallest failing change to the bundled sample:"),
                              soft_wrap=True)
                for line in change_lines(reproducer.changes):
                    console.print(line, soft_wrap=True)
            else:
                console.print(Text("  the bundled sample itself fails"), soft_wrap=True)
            if reproducer.saved is not None:
                console.print(Text(f"  saved: {reproducer.saved}", style="cyan"),
                              soft_wrap=True)


class FuzzProgress:
    """A progress bar over fuzz runs on a terminal (silent when piped)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def start(self, total: int) -> None:
        """Show the bar for total transform × event type runs."""
        if not self.console.is_terminal or not total:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("fuzzing {task.description}"), BarColumn(),
                                 MofNCompleteColumn(), console=self.console, transient=True)
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
