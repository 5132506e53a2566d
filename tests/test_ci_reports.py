"""Reports for CI and editors: `--format short`, the GitHub job summary, annotations beside a
report file, and JUnit as GitLab reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from dodo_inngest_cli.job_summary import code_block, job_summary, md
from dodo_inngest_cli.models import ConsoleLine, OutgoingRequest, Result, Status
from dodo_inngest_cli.report import short_lines
from dodo_inngest_cli.rules import finding
from dodo_inngest_cli.suite import SuiteReport

from conftest import ROOT, TRANSFORMS, WEBHOOKS, RunCli

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS_PAYMENT = str(TRANSFORMS / "dodo-docs" / "payment.js")
SUCCEEDED = str(WEBHOOKS / "payment.succeeded.json")
THROWS = "function handler(w) {\n  return w.payload.data.customer.x.y;\n}\n"
TS_IN_SECONDS = (
    "ts 1773480413 is in seconds: as milliseconds, which Inngest reads, it is "
    "1970-01-21T12:38:00.413Z, and Inngest rejects it ('timestamp is before Jan 1, 1980'); as "
    "seconds it is 2026-03-14T09:26:53.000Z")


def test_short_format_is_one_line_per_error_and_warning(cli: RunCli, in_tmp: Path) -> None:
    Path("t.js").write_text(THROWS)
    result = cli("test", "-t", "t.js", "-t", DOCS_PAYMENT, "-s", SUCCEEDED, "--format", "short",
                 code=1)
    assert result.stdout.splitlines() == [
        "t.js:2:1: error js-exception: t.js:2:10: TypeError: cannot read property 'y' of "
        "undefined [payment.succeeded]",
        f"{DOCS_PAYMENT}:19:1: error ts-in-seconds: {TS_IN_SECONDS} [payment.succeeded]",
        f"{DOCS_PAYMENT}:1:1: warning id-missing: the event has no id: retries and replays run "
        "your functions again [payment.succeeded]",
        f"{DOCS_PAYMENT}:16:1: warning user-deprecated: the user field is deprecated "
        "[payment.succeeded]",
    ]
    assert result.stderr == ""


def test_short_lines_stay_one_line_whatever_a_message_holds(cli: RunCli, in_tmp: Path) -> None:
    Path("t.js").write_text("function handler(w) {\n  throw new Error('red\\u001b[31m');\n}\n")
    result = cli("test", "t.js", "-s", SUCCEEDED, "--format", "short", code=1)
    assert result.stdout == ("t.js:2:1: error js-exception: t.js:2:13: Error: red\\x1b[31m "
                             "[payment.succeeded]\n")
    odd = Result(transform="t.js", sample="two\nlines", source="p.json", event_type="x",
                 status=Status.FAILED, request=None, console=[], duration_ms=1.0,
                 findings=[finding("schema-mismatch", "first\r\nsecond\u2028third", line=7)])
    assert short_lines([odd]) == ("t.js:7:1: error schema-mismatch: first second third "
                                  "[two lines]\n")


def test_short_report_to_a_file_keeps_the_summary_on_the_terminal(cli: RunCli,
                                                                  in_tmp: Path) -> None:
    result = cli("test", "-t", DOCS_PAYMENT, "-s", SUCCEEDED, "--format", "short", "-o",
                 "problems.txt", code=1)
    assert Path("problems.txt").read_text().splitlines()[0] == (
        f"{DOCS_PAYMENT}:19:1: error ts-in-seconds: {TS_IN_SECONDS} [payment.succeeded]")
    assert re.sub(r"\d+\.\d+ s", "N s", result.stdout) == (
        "0 passed, 1 failed, 0 errors, 0 cancelled, 0 skipped, 2 warnings in N s; report "
        "written to problems.txt\n")


def readme_block(marker: str, language: str) -> str:
    """The fenced block of language that follows `<!-- marker -->` in the README."""
    match = re.search(rf"<!-- {marker} -->\n```{language}\n(.*?)\n```", README, re.S)
    assert match is not None, f"README lacks the {marker} block"
    return match.group(1)


def test_the_readme_problem_matcher_reads_every_short_line(cli: RunCli, in_tmp: Path) -> None:
    tasks = json.loads(readme_block("vscode-tasks", "json"))
    [task] = tasks["tasks"]
    assert task["command"] == "dodo-inngest test --format short"
    pattern = task["problemMatcher"]["pattern"]
    Path("t.js").write_text(THROWS)
    lines = cli("test", "-t", "t.js", "-t", DOCS_PAYMENT, "-s", SUCCEEDED, "--format", "short",
                code=1).stdout.splitlines()
    fields = ("file", "line", "column", "severity", "code", "message")
    parsed = []
    for line in lines:
        match = re.fullmatch(pattern["regexp"], line)
        assert match is not None, line
        parsed.append(tuple(match.group(pattern[field]) for field in fields))
    assert parsed[0] == ("t.js", "2", "1", "error", "js-exception",
                         "t.js:2:10: TypeError: cannot read property 'y' of undefined "
                         "[payment.succeeded]")
    assert [p[3:5] for p in parsed[1:]] == [("error", "ts-in-seconds"),
                                            ("warning", "id-missing"),
                                            ("warning", "user-deprecated")]


def evil_report() -> SuiteReport:
    """Two results whose names, messages and payload try to break Markdown."""
    failed = Result(
        transform="transforms/pay|ment.js", sample="a|b <img src=x> `tick` *star* $x$",
        source="a.json", event_type="payment.succeeded", status=Status.FAILED,
        request=OutgoingRequest("POST", "https://inn.gs/e/k", {}, {
            "name": "dodo/payment.succeeded", "ts": 1773480413,
            "data": {"note": "``` </details> <script>"}}),
        findings=[finding("ts-in-seconds", "ts is in seconds\n| injected | row |", path="/ts"),
                  finding("id-missing", "no id", path="/id"),
                  finding("name-style", "style", path="/name")],
        console=[ConsoleLine("log", "\x1b[31mred")], duration_ms=1.0)
    errored = Result(
        transform="t.js", sample="payment.failed", source="b.json",
        event_type="payment.failed", status=Status.ERROR, request=None,
        findings=[finding("js-exception", "t.js:2:10: TypeError: boom", line=2)],
        console=[], duration_ms=1.0)
    passed = Result(
        transform="t.js", sample="payment.succeeded", source="c.json",
        event_type="payment.succeeded", status=Status.PASSED, request=None,
        findings=[finding("id-missing", "no id", path="/id")], console=[], duration_ms=1.0)
    return SuiteReport([failed, errored, passed], seconds=0.25)


def test_job_summary_is_escaped_markdown_with_totals_failures_and_events() -> None:
    assert job_summary(evil_report()) == (
        "### dodo-inngest test: ❌ 1 failed, 1 error of 3\n"
        "\n"
        "| Total | Passed | Failed | Errors | Cancelled | Skipped | Warnings | Seconds |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| 3 | 1 | 1 | 1 | 0 | 0 | 2 | 0.25 |\n"
        "\n"
        "| Transform | Sample | Rule | Severity | Message |\n"
        "|---|---|---|---|---|\n"
        "| transforms/pay\\|ment.js | a\\|b &lt;img src=x&gt; \\`tick\\` \\*star\\* \\$x\\$ "
        "| `ts-in-seconds` | error | ts is in seconds \\| injected \\| row \\| |\n"
        "| transforms/pay\\|ment.js | a\\|b &lt;img src=x&gt; \\`tick\\` \\*star\\* \\$x\\$ "
        "| `id-missing` | warning | no id |\n"
        "| t.js:2 | payment.failed | `js-exception` | error | t.js:2:10: TypeError: boom |\n"
        "\n"
        "<details><summary>Outgoing event of each failed pair (2)</summary>\n"
        "\n"
        "**transforms/pay\\|ment.js × a\\|b &lt;img src=x&gt; \\`tick\\` \\*star\\* \\$x\\$** "
        "(failed)\n"
        "\n"
        "````json\n"
        "{\n"
        '  "name": "dodo/payment.succeeded",\n'
        '  "ts": 1773480413,\n'
        '  "data": {\n'
        '    "note": "``` </details> <script>"\n'
        "  }\n"
        "}\n"
        "````\n"
        "\n"
        "**t.js × payment.failed** (error)\n"
        "\n"
        "No event: the transform did not run to the end.\n"
        "\n"
        "</details>\n"
        "\n")


@pytest.mark.parametrize(("raw", "safe"), [
    ("line\nbreak\r\nand\x1b[2J", "line break and\\\\x1b\\[2J"),
    ("<b>&amp;</b>", "&lt;b&gt;&amp;amp;&lt;/b&gt;"),
    ("[link](javascript:x) ~~s~~ _e_ #1", "\\[link\\](javascript:x) \\~\\~s\\~\\~ \\_e\\_ \\#1"),
    ("back\\slash", "back\\\\slash"),
])
def test_markdown_text_cannot_escape_its_cell(raw: str, safe: str) -> None:
    assert md(raw) == safe


def test_code_block_fence_outlasts_any_backticks_inside() -> None:
    assert code_block("a ````` b") == "``````\na ````` b\n``````"
    assert code_block("plain") == "```\nplain\n```"


def test_test_appends_the_job_summary_with_secrets_masked(cli: RunCli, in_tmp: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    Path("t.js").write_text(
        "function handler(w) {\n  w.payload = {name: 'dodo/x', data: {url: w.url},\n"
        "    ts: Math.floor(new Date(w.payload.timestamp).getTime() / 1000)};\n  return w;\n}\n")
    summary = in_tmp / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli("test", "-t", "t.js", "-s", SUCCEEDED, "--endpoint-url",
        "https://inn.gs/e/supersecretkey1234", "--format", "json", code=1)
    text = summary.read_text()
    assert text.startswith("earlier step\n### dodo-inngest test: ❌ 1 failed, 0 errors of 1\n")
    assert "| t.js:3 | payment.succeeded | `ts-in-seconds` | error | ts 1773480413 is in" in text
    assert '"url": "https://inn.gs/e/****1234"' in text
    assert "supersecretkey" not in text


def test_an_unwritable_job_summary_is_a_warning_not_a_failure(cli: RunCli, in_tmp: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(in_tmp / "missing" / "summary.md"))
    result = cli("test", "-t", str(TRANSFORMS / "payment.js"), "-s", SUCCEEDED, "-q", code=0)
    assert result.stderr == (f"warning: {in_tmp / 'missing' / 'summary.md'}: cannot write the "
                             "job summary: No such file or directory\n")


def test_on_github_actions_a_report_file_leaves_stdout_to_annotations(
        cli: RunCli, in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("test", "-t", DOCS_PAYMENT, "-s", SUCCEEDED, "--format", "junit", "-o",
                 "report.xml", code=1)
    lines = result.stdout.splitlines()
    assert lines[0].endswith("; report written to report.xml")
    assert [line.split(" ", 2)[:2] for line in lines[1:]] == [
        ["::error", f"file={DOCS_PAYMENT},line=19,title=ts-in-seconds"],
        ["::warning", f"file={DOCS_PAYMENT},title=id-missing"],
        ["::warning", f"file={DOCS_PAYMENT},line=16,title=user-deprecated"]]
    stdout_json = cli("test", "-t", DOCS_PAYMENT, "-s", SUCCEEDED, "--format", "json",
                      code=1).stdout
    assert json.loads(stdout_json)["ok"] is False  # data on stdout stays data


def test_readme_gitlab_job_keeps_the_junit_report_it_writes(cli: RunCli, in_tmp: Path) -> None:
    job = yaml.safe_load(readme_block("gitlab-ci", "yaml"))["dodo-inngest"]
    [command] = [line for line in job["script"] if line.startswith("dodo-inngest test")]
    assert command == "dodo-inngest test --format junit --output dodo-inngest.xml"
    assert job["artifacts"]["reports"]["junit"] == "dodo-inngest.xml"
    assert job["artifacts"]["when"] == "always"
    cli(*command.split()[1:], "-t", DOCS_PAYMENT, "-s", SUCCEEDED, code=1)
    root = ElementTree.parse("dodo-inngest.xml").getroot()
    # What GitLab's JUnit parser reads: testsuite > testcase (classname, name, file, time) with
    # a failure whose text is shown in the merge request.
    [case] = root.iter("testcase")
    assert (case.get("classname"), case.get("name"), case.get("file")) == (
        DOCS_PAYMENT, "payment.succeeded", DOCS_PAYMENT)
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "payment.succeeded: ts-in-seconds"
    assert "\nerror ts-in-seconds /ts: ts 1773480413 is in seconds" in (failure.text or "")


def test_annotations_name_files_from_the_repository_root(cli: RunCli, in_tmp: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # GitHub places `file=` from the checkout's root, whichever folder the step runs in.
    (in_tmp / "billing").mkdir()
    (in_tmp / "billing" / "t.js").write_text(THROWS)
    monkeypatch.chdir(in_tmp / "billing")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(in_tmp))
    result = cli("test", "-t", "t.js", "-s", SUCCEEDED, "--format", "github", code=1)
    assert result.stdout.startswith("::error file=billing/t.js,line=2,title=js-exception ")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(in_tmp / "elsewhere"))  # outside it: as given
    result = cli("test", "-t", "t.js", "-s", SUCCEEDED, "--format", "github", code=1)
    assert result.stdout.startswith("::error file=t.js,line=2,title=js-exception ")
