"""The Markdown job summary of a `test` run, for CI pages that render one (GitHub Actions'
GITHUB_STEP_SUMMARY): the totals, a table of the failing findings, and the outgoing event of
each failed pair in a collapsed section.

Everything that comes from outside (file and sample names, messages, console text, payloads)
is escaped so it cannot break the Markdown or inject HTML; secrets are masked by the writer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import jsonio
from .models import Result, Status
from .redaction import redact
from .rules import Severity
from .textsafe import printable

if TYPE_CHECKING:
    from .suite import SuiteReport

MAX_ROWS = 100
"""Failing findings listed in the table; the rest are counted."""
MAX_EVENTS = 20
"""Failed pairs whose outgoing event is shown."""
MAX_EVENT_CHARS = 20_000
"""An event longer than this is cut (GitHub keeps at most 1 MiB of summary per step)."""
MAX_MESSAGE_CHARS = 300

_MARKDOWN = re.compile(r"([\\`*_\[\]|~$#])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_FAILING = (Status.FAILED, Status.ERROR)


def md(text: str, limit: int | None = None) -> str:
    """Text safe inside a Markdown paragraph or table cell: one line, control characters shown
    escaped, HTML and Markdown punctuation neutralised."""
    flat = printable(" ".join(redact(text).splitlines()))  # masked before cut or escaped
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = _MARKDOWN.sub(r"\\\1", flat)
    return "".join(_HTML.get(char, char) for char in flat)


def code_block(text: str, language: str = "") -> str:
    """A fenced code block that no backtick run in text can close early."""
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{language}\n{printable(redact(text))}\n{fence}"


def job_summary(report: SuiteReport) -> str:
    """The Markdown summary of a `test` run."""
    summary = report.summary
    failing = [r for r in report.results if r.status in _FAILING]
    fuzz_failures = [f for f in report.fuzzed if not f.ok]
    if report.ok:
        verdict = f"✅ {summary.passed} of {summary.total} passed"
    else:
        verdict = (f"❌ {summary.failed} failed, {summary.errors} "
                   f"{'error' if summary.errors == 1 else 'errors'} of {summary.total}")
        if fuzz_failures:
            verdict += f"; fuzzing failed for {len(fuzz_failures)} event type(s)"
    parts = [
        f"### dodo-inngest test: {verdict}",
        "| Total | Passed | Failed | Errors | Cancelled | Skipped | Warnings | Seconds |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {summary.total} | {summary.passed} | {summary.failed} | {summary.errors} "
        f"| {summary.cancelled} | {summary.skipped} | {summary.warnings} "
        f"| {report.seconds:.2f} |",
    ]
    rows = _rows(failing) + _fuzz_rows(fuzz_failures)
    if rows:
        table = ["| Transform | Sample | Rule | Severity | Message |", "|---|---|---|---|---|"]
        table += rows[:MAX_ROWS]
        if len(rows) > MAX_ROWS:
            table.append(f"| … | {len(rows) - MAX_ROWS} more findings | | | |")
        parts.append("\n".join(table))
    if failing:
        parts.append(_events(failing))
    return "\n\n".join(parts) + "\n\n"


def _rows(results: list[Result]) -> list[str]:
    rows = []
    for result in results:
        for item in result.findings:
            if item.severity is Severity.INFO:
                continue
            where = item.file_of(result.transform) + (f":{item.line}" if item.line else "")
            rows.append(f"| {md(where)} | {md(result.sample)} | `{item.code}` "
                        f"| {item.severity.value} | {md(item.message, MAX_MESSAGE_CHARS)} |")
        if not any(f.severity is not Severity.INFO for f in result.findings):
            rows.append(f"| {md(result.transform)} | {md(result.sample)} | | "
                        f"{result.status.value} | |")
    return rows


def _fuzz_rows(reports: Sequence[Any]) -> list[str]:
    """fuzz.FuzzReport rows: a row per rule code that generated payloads failed with."""
    rows = []
    for report in reports:
        sample = md(f"{report.event_type} (fuzz: {report.tried} payloads)")
        for code, count in report.failures.items():
            rows.append(f"| {md(report.transform)} | {sample} | `{code}` | error "
                        f"| {count} generated payload(s) failed |")
    return rows


def _events(results: list[Result]) -> str:
    blocks = [f"<details><summary>Outgoing event of each failed pair ({len(results)})"
              "</summary>"]
    for result in results[:MAX_EVENTS]:
        blocks.append(f"**{md(result.transform)} × {md(result.sample)}** "
                      f"({result.status.value})")
        if result.request is None:
            blocks.append("No event: the transform did not run to the end.")
            continue
        event = redact(jsonio.dumps(result.request.payload, indent=2))  # before the cut
        if len(event) > MAX_EVENT_CHARS:
            event = event[:MAX_EVENT_CHARS] + f"\n… ({len(event) - MAX_EVENT_CHARS} more " \
                                               "characters)"
        blocks.append(code_block(event, "json"))
    if len(results) > MAX_EVENTS:
        blocks.append(f"… and {len(results) - MAX_EVENTS} more failed pairs.")
    blocks.append("</details>")
    return "\n\n".join(blocks)
