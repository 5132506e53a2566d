"""Reports on a list of results: the summary, the JSON of one result (README, "--format
json"), JUnit XML, GitHub annotations, `short` lines for editors and a result's details as
plain text. Every format holds whatever a transform printed, escaped so it stays well-formed;
secrets are masked by the writer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .functions import FunctionRun, FunctionStatus
from .models import Result, Status
from .redaction import redact
from .rules import Finding, Severity
from .textsafe import printable, xml_safe

REPORT_VERSION = 1
STOPPED = {FunctionStatus.FAILED: "function-failed",
           FunctionStatus.TIMED_OUT: "function-timeout"}
"""The function runs that fail, and the rule each is reported under."""
SEVERITY_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i"}


@dataclasses.dataclass(frozen=True)
class Summary:
    """Counts over a run."""

    total: int
    passed: int
    failed: int
    errors: int
    cancelled: int
    skipped: int
    warnings: int

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing errored."""
        return self.failed == 0 and self.errors == 0

    @classmethod
    def of(cls, results: Sequence[Result]) -> Summary:
        """Count the results by status, and their warning findings."""
        count = {status: 0 for status in Status}
        for result in results:
            count[result.status] += 1
        return cls(total=len(results), passed=count[Status.PASSED], failed=count[Status.FAILED],
                   errors=count[Status.ERROR], cancelled=count[Status.CANCELLED],
                   skipped=count[Status.SKIPPED],
                   warnings=sum(len(result.warnings) for result in results))


def result_json(result: Result) -> dict[str, Any]:
    """One result as the JSON report shows it."""
    request = result.request.to_json() if result.request is not None else None
    document: dict[str, Any] = {
        "transform": result.transform,
        "sample": result.source,
        "event_type": result.event_type,
        "status": result.status.value,
        "request": request,
        "findings": [f.to_json() for f in result.findings],
        "console": [{"level": line.level, "text": line.text} for line in result.console],
        "duration_ms": round(result.duration_ms, 3),
    }
    if result.changes:
        for entry in document["findings"]:
            if entry["code"] == "snapshot-mismatch":
                entry["diff"] = [change.to_json() for change in result.changes]
    if result.triggers is not None:
        document["triggers"] = [match.to_json() for match in result.triggers]
    if result.functions is not None:
        document["functions"] = [run.to_json() for run in result.functions]
    return document


def junit_xml(results: Sequence[Result], *, seconds: float,
              fuzzed: Sequence[Any] = ()) -> str:
    """A JUnit report: a testsuite per transform, a testcase per sample and one per function
    run (`sample → function`), failures carrying the findings (readable by GitHub, GitLab and
    Jenkins); fuzz reports as their own suites."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="dodo-inngest", time=f"{seconds:.3f}")
    suites: dict[str, ET.Element] = {}

    def case(suite: str, name: str, file: str, seconds: float) -> ET.Element:
        if suite not in suites:
            suites[suite] = ET.SubElement(root, "testsuite", name=suite)
        return ET.SubElement(suites[suite], "testcase", classname=suite, name=name, file=file,
                             time=f"{seconds:.3f}")

    for result in results:
        testcase = case(result.transform, result.sample, result.transform,
                        result.duration_ms / 1000)
        details = "\n".join(_finding_text(f) for f in result.findings)
        codes = " ".join(f.code for f in result.findings if f.severity.value == "error")
        if result.status is Status.FAILED:
            ET.SubElement(testcase, "failure", type=codes or "warnings",
                          message=f"{result.sample}: {codes or 'warnings (strict)'}"
                          ).text = details
        elif result.status is Status.ERROR:
            ET.SubElement(testcase, "error", type=codes,
                          message=f"{result.sample}: {codes}").text = details
        elif result.status is Status.SKIPPED:
            ET.SubElement(testcase, "skipped", message="excluded by the transform's event "
                                                       "filter")
        elif details:
            ET.SubElement(testcase, "system-out").text = details
        if result.console:
            ET.SubElement(testcase, "system-err").text = "\n".join(
                f"console.{line.level}: {line.text}" for line in result.console)
        for run in result.functions or ():
            testcase = case(result.transform, f"{result.sample} → {run.function}",
                            run.file or result.transform, run.duration_ms / 1000)
            if run.status in STOPPED:
                code = STOPPED[run.status]
                ET.SubElement(testcase, "failure", type=code,
                              message=f"{run.function} on {run.event}: {run.error}"
                              ).text = "\n".join([*_traceback_text(run), *run.printed])
            elif run.printed:
                ET.SubElement(testcase, "system-out").text = "\n".join(run.printed)
    for report in fuzzed:
        testcase = case(f"fuzz: {report.transform}",
                        f"{report.event_type} × {report.tried} generated payloads",
                        report.transform, 0.0)
        if report.failures:
            ET.SubElement(testcase, "failure", type=" ".join(report.failures),
                          message=", ".join(f"{code}: {count}" for code, count
                                            in report.failures.items())).text = "\n".join(
                f"{r.code}: {r.message}\n  reproducer: "
                + ("; ".join(str(c) for c in r.changes) or "the bundled sample itself")
                for r in report.reproducers)
    for element in [*suites.values(), root]:
        cases = list(element.iter("testcase"))
        element.set("tests", str(len(cases)))
        for child, attribute in (("failure", "failures"), ("error", "errors"),
                                 ("skipped", "skipped")):
            element.set(attribute, str(sum(c.find(child) is not None for c in cases)))
        if element is not root:
            element.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")
    for element in root.iter():  # whatever the transform printed, the XML stays well-formed;
        # secrets are masked here, before the serialiser escapes `&`, `<` and `>` in them
        element.text = xml_safe(redact(element.text)) if element.text else element.text
        for name, value in list(element.attrib.items()):
            element.set(name, xml_safe(redact(value)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _traceback_text(run: FunctionRun) -> list[str]:
    """A function run's traceback, the project's own frames: `file:line in function`."""
    lines = []
    for frame in run.traceback:
        lines.append(f"{frame.file}:{frame.line} in {frame.function}")
        if frame.code:
            lines.append(f"    {frame.code}")
    return lines


def _finding_text(item: Finding) -> str:
    text = f"{item.severity.value} {item.code} {item.path}: {item.message}"
    return text + (f"\n  hint: {item.hint}" if item.hint else "")


def github_annotations(results: Sequence[Result], *, root: Path | None = None) -> str:
    """GitHub Actions workflow commands: an ::error or ::warning per finding, at the transform
    file (and line, when the finding has one), or at the file the finding names (a function's
    own line). GitHub places a file relative to the repository's root: with root (the
    workspace), a file inside it is named from there, whatever folder the run was in."""
    lines = []
    for result in results:
        for item in result.findings:
            if item.severity.value == "info":
                continue
            level = "error" if item.severity.value == "error" else "warning"
            props = f"file={_gh_property(_from_root(item.file_of(result.transform), root))}"
            if item.line:
                props += f",line={item.line}"
            props += f",title={_gh_property(f'{item.code} ({result.sample})')}"
            message = item.message + (f" Hint: {item.hint}" if item.hint else "")
            lines.append(f"::{level} {props}::{_gh_data(message)}")
    return "".join(line + "\n" for line in lines)


def _from_root(file: str, root: Path | None) -> str:
    if root is None:
        return file
    try:
        return Path(file).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return file


def _gh_data(text: str) -> str:
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(escaped)


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def short_lines(results: Sequence[Result]) -> str:
    """`FILE:LINE:COL: SEVERITY CODE: message [sample]`, a line per error and warning: the
    compilers' format that editors' problem matchers, vim's quickfix and grep read. FILE is the
    transform; findings carry no column (1), and one without a line points at line 1."""
    lines = []
    for result in results:
        for item in result.findings:
            if item.severity is Severity.INFO:
                continue
            lines.append(f"{_one_line(item.file_of(result.transform))}:{item.line or 1}:1: "
                         f"{item.severity.value} {item.code}: {_one_line(item.message)} "
                         f"[{_one_line(result.sample)}]")
    return "".join(line + "\n" for line in lines)


def _one_line(text: str) -> str:
    return printable(" ".join(text.splitlines()))


def result_details(result: Result) -> str:
    """A result's details as plain text, shaped as `test`'s text report shows them under a
    pair: each finding with its JSON path and hint, snapshot changes, console lines."""
    lines = []
    for item in result.findings:
        where = f" {item.path}" if item.path else ""
        lines.append(f"  {SEVERITY_MARK[item.severity]} {item.code}{where}  {item.message}")
        if item.hint:
            lines.append(f"      hint: {item.hint}")
    lines += [f"    {change}" for change in result.changes]
    lines += [f"  console.{line.level}: {line.text}" for line in result.console]
    return "\n".join(printable(line) for line in lines)
