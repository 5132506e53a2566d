"""Rich views of deliveries for people: `send`'s table, `replay`'s progress and summary,
`listen`'s live table, `verify`'s rows."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import jsonio
from ..outcomes import Outcome
from ..rules import Severity
from .layout import Column, print_rows, table
from .output import Output, animated, text
from .render import STATUS_STYLE, print_findings

if TYPE_CHECKING:
    from ..listener import Received
    from ..relay import Batch, Dispatch
    from ..replay import ReplayReport
    from ..sending import SendReport

OUTCOME_STYLE = {
    Outcome.ACCEPTED: "green", Outcome.REJECTED: "bold red", Outcome.FAILED: "bold red",
    Outcome.CANCELLED: "cyan", Outcome.ERROR: "bold magenta", Outcome.BLOCKED: "yellow",
    Outcome.SKIPPED: "dim", Outcome.DUPLICATE: "dim", Outcome.INVALID: "magenta",
    Outcome.WOULD_SEND: "cyan",
}


def outcome_text(outcome: Outcome) -> Text:
    """An outcome word, coloured."""
    return Text(outcome.value, style=OUTCOME_STYLE[outcome])


def request_text(batch: Batch) -> str:
    """A request exactly as it goes over the wire: the request line, headers, the body
    indented for reading (the bytes sent are the compact form)."""
    lines = [f"{batch.method} {batch.url}", *(f"{k}: {v}" for k, v in batch.headers.items())]
    return "\n".join(lines) + "\n\n" + jsonio.dumps(batch.payload, indent=2) + "\n"


def print_request(output: Output, batch: Batch) -> None:
    """One request for a dry run or --show-output: data, never cropped."""
    head, _, body = request_text(batch).partition("\n\n")
    output.data(head + "\n\n")  # a blank line between the headers and the body, as sent
    output.json_text(body)
    output.data("\n")


def print_send(output: Output, report: SendReport) -> None:
    """A send for people: findings and problems on stderr; requests, events and the summary
    on stdout."""
    out, err = output.out, output.err
    for item in report.prepared:
        blocking = item.status.value in ("failed", "error")
        shown = [f for f in item.findings if f.severity is not Severity.INFO or blocking]
        if shown:
            head = text(f"{item.source}: ", style="bold")
            head.append(item.status.value, style=STATUS_STYLE[item.status])
            err.print(head, soft_wrap=True)
            print_findings(err, shown)
    if report.blocked:
        count = sum(p.outcome is Outcome.ERROR for p in report.prepared)
        output.error(f"{count} of {len(report.prepared)} payloads have error findings; nothing "
                     "was sent", "fix them, or --force to send anyway")
        return
    for item in report.prepared:
        if item.stored is not None:
            out.print(text(f"{item.source}: Inngest stores", style="bold"), soft_wrap=True)
            output.json(item.stored)
    if report.dry_run:
        if report.target.placeholder:
            output.warning("no event key is set: the requests show <INNGEST_EVENT_KEY> in its "
                           "place (set INNGEST_EVENT_KEY or --event-key to send)")
        for batch in report.planned:
            print_request(output, batch)
    rows = [[text(Path(r.source).name), text(r.name), text(r.event_id), outcome_text(r.outcome),
             text(str(r.attempts) if r.attempts else "")] for r in report.rows()]
    print_rows(out, [Column("Source"), Column("Event"), Column("Inngest id"),
                     Column("Outcome"), Column("Attempts", justify="right", optional=True)], rows)
    for row in report.rows():
        if row.error and row.outcome is not Outcome.ERROR:
            output.error(f"{report.target.shown}: {row.error} ({row.source})", row.hint or None)
        elif row.error:
            output.error(f"{row.source}: {row.error}", row.hint or None)
    if report.runs_error:
        output.warning(f"the events were sent, but their runs could not be looked up: "
                       f"{report.runs_error}")
    for event_id, runs in report.runs.items():
        for run in runs:
            out.print(text(f"{event_id}: run {run.get('run_id', '?')} of function "
                           f"{run.get('function_id', '?')}: {run.get('status', '?')}"),
                      soft_wrap=True)
        if not runs:
            output.warning(f"no function run started for {event_id}: is your app synced with "
                           "the Dev Server, and does a function trigger on this event name?")
    parts = [f"{n} {outcome}" for outcome, n in report.counts().items() if n]
    if report.unsent:
        parts.append(f"{report.unsent} not sent (interrupted)")
    out.print(text(", ".join(parts) + f" → {report.target.label}"), soft_wrap=True)


class ListenView:
    """The listener's live view: a table of recent requests on a terminal, a line each when
    piped, and a summary at the end. Every value from a request is shown escaped."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.recent: list[Any] = []
        self.counts = {"received": 0, "refused": 0, "forwarded": 0, "cancelled": 0,
                       "forward failed": 0}
        self.live: Any = None
        self.lock = threading.Lock()

    def started(self, address: str, *, verified: bool, capture: Path | None,
                forwarding: str | None, waits: bool = False) -> None:
        """Say where it listens and what it does with deliveries (first line: the address)."""
        self.console.print(text(f"listening on {address}"), soft_wrap=True)
        notes = ["signatures verified" if verified
                 else "signatures NOT verified (DODO_PAYMENTS_WEBHOOK_KEY not set)"]
        notes.append(f"capturing to {capture}" if capture else "not capturing (no --capture)")
        if forwarding:
            notes.append(f"forwarding to {forwarding}" + (
                " (no capture to replay from: each answer waits for its forward)"
                if waits else ""))
        self.console.print(text("; ".join(notes) + ". Ctrl-C stops."), soft_wrap=True)
        self.console.file.flush()

    def stopping(self, pending: int, drain_s: float) -> None:
        """Say what the stop waits for, when it waits for anything."""
        if pending:
            self.console.print(text(
                f"stopping: up to {drain_s:g} s for {pending} forward"
                f"{'s' if pending != 1 else ''} still to go; Ctrl-C again to stop at once"),
                soft_wrap=True)
            self.console.file.flush()

    def __enter__(self) -> ListenView:
        if animated(self.console):
            from rich.live import Live

            self.live = Live(self._table(), console=self.console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def add(self, received: Received) -> None:
        """Record one answered request, or a forward's outcome (from the listener's
        threads)."""
        with self.lock:
            if not received.follow_up:  # a follow-up reports the forward of one counted before
                # received: captured (or kept), whatever the answer (502 asks Dodo to retry)
                self.counts["received" if received.delivery else "refused"] += 1
            forwarded = received.forwarded
            if forwarded is not None:
                self.counts["forward failed" if forwarded.outcome.failing else "cancelled"
                            if forwarded.outcome is Outcome.CANCELLED else "forwarded"] += 1
            earlier = [i for i, r in enumerate(self.recent)
                       if received.follow_up and r.delivery == received.delivery]
            if earlier:  # the forward's outcome completes the row of its delivery
                self.recent[earlier[-1]] = received
            else:
                self.recent = [*self.recent[-49:], received]
            if self.live is not None:
                self.live.update(self._table())
            else:
                self.console.print(text(_received_line(received)), soft_wrap=True)
                self.console.file.flush()

    def _table(self) -> Any:
        """The most recent requests that fit the terminal's height, newest last."""
        columns = [Column("Time", optional=True), Column("Delivery"), Column("Type"),
                   Column("HTTP"), Column("Verified"), Column("Forwarded"),
                   Column("Inngest id", prose=True)]
        room = max(self.console.height - 3, 1)
        rows = [self._row(item) for item in self.recent[-room:]]
        rendered = table(self.console, columns, rows)
        if isinstance(rendered, Table):
            return rendered
        return table(self.console, columns, rows[-max(room // len(columns), 1):])

    @staticmethod
    def _row(item: Received) -> list[Text]:
        forwarded = item.forwarded
        return [text(item.at[11:23]), text(item.delivery or "-"), text(item.event_type or "-"),
                text(str(item.status)),
                text({True: "yes", False: "NO", None: "-"}[item.verified]),
                outcome_text(forwarded.outcome) if forwarded else text("-"),
                text(", ".join(i for i in forwarded.ids if i) or forwarded.reason
                     if forwarded else item.note)]

    def summary(self) -> None:
        """The totals, once the listener stopped."""
        self.console.print(text(", ".join(f"{n} {k}" for k, n in self.counts.items())),
                           soft_wrap=True)


def _received_line(item: Received) -> str:
    verified = {True: "verified", False: "NOT verified", None: "unverified"}[item.verified]
    line = f"{item.at} {item.status} {item.delivery or '-'} {item.event_type or '-'} {verified}"
    forwarded = item.forwarded
    if forwarded is not None:
        line += f" forwarded: {forwarded.outcome.value}"
        if any(forwarded.ids):
            line += " " + ",".join(i for i in forwarded.ids if i)
        if forwarded.reason:
            line += f" ({forwarded.reason})"
    if item.note:
        line += f" ({item.note})"
    return line


class ReplayView:
    """Replay progress: a bar with rate and ETA on a terminal, problems as they happen, and
    a summary."""

    def __init__(self, output: Output, total: int, target: str, *,
                 show_output: bool = False) -> None:
        self.output = output
        self.target = target
        self.total = total
        self.show_output = show_output
        self.printing = threading.Lock()
        """Dry-run requests come from the worker threads: one whole request at a time."""
        self.progress: Any = None
        self.task: Any = None
        self.hinted = ""

    def __enter__(self) -> ReplayView:
        if animated(self.output.err):
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
                                     TimeRemainingColumn(), console=self.output.err,
                                     transient=True)
            self.progress.__enter__()
            self.task = self.progress.add_task("replay", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)

    def add(self, dispatch: Dispatch) -> None:
        """Count one delivery on the bar; report the ones that need a look."""
        if self.progress is not None:
            self.progress.advance(self.task)
        if dispatch.outcome in (Outcome.FAILED, Outcome.REJECTED, Outcome.ERROR,
                                Outcome.INVALID):
            line = f"{dispatch.outcome.value}: {dispatch.key}: {dispatch.reason}"
            self.output.err.print(text(line, style=OUTCOME_STYLE[dispatch.outcome]),
                                  soft_wrap=True)
            if dispatch.hint and dispatch.hint != self.hinted:
                self.hinted = dispatch.hint  # the same hint once, not once per delivery
                self.output.err.print(text(f"hint: {dispatch.hint}", style="dim"),
                                      soft_wrap=True)

    def request(self, batch: Batch) -> None:
        """A request a dry run would make (with --show-output)."""
        if self.show_output:
            with self.printing:
                print_request(self.output, batch)

    def summary(self, report: ReplayReport) -> None:
        """The counts, the notes, and what to do after an interruption."""
        out = self.output.out
        title = f"replay → {self.target}" + (" (interrupted)" if report.interrupted else "")
        out.print(text(title, style="bold"), soft_wrap=True)
        out.print(text(", ".join(f"{n} {o.value}" for o, n in report.counts.items()
                                 if n or o is not Outcome.WOULD_SEND)), soft_wrap=True)
        for problem in report.state_problems:
            self.output.warning(f"state file: {problem}")
        if report.assigned:
            out.print(text(f"{report.assigned} event(s) had no id and got one derived from the "
                           "delivery (--no-assign-id keeps them without)"), soft_wrap=True)
        if report.interrupted:
            out.print(text("interrupted: what finished is recorded; run the same command again "
                           "to send the rest"), soft_wrap=True)


def print_verify(output: Output, rows: Sequence[dict[str, str]], counts: dict[str, int]) -> None:
    """A row per delivery: its id, where it was, the result and why; then the counts."""
    style = {"valid": "green", "invalid": "bold red", "unsigned": "yellow",
             "unreadable": "magenta"}
    print_rows(output.out, [Column("Delivery"), Column("Source"), Column("Result"),
                            Column("Reason", prose=True)],
               [[text(r["delivery"]), text(r["source"]),
                 text(r["result"], style=style[r["result"]]), text(r["reason"])] for r in rows])
    output.out.print(text(", ".join(f"{n} {k}" for k, n in counts.items())), soft_wrap=True)
