"""`dodo-inngest test`: the CI step, its reports, its configuration and its input errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, TRANSFORMS, WEBHOOKS, RunCli, write_json

DOCS_PAYMENT = str(TRANSFORMS / "dodo-docs" / "payment.js")
PAYMENT = str(TRANSFORMS / "payment.js")
PAYMENT_SAMPLE = str(WEBHOOKS / "payment.succeeded.json")


def report(cli: RunCli, *args: str, code: int) -> Any:
    """The JSON report of a `test` run that exits with code."""
    return json.loads(cli("test", *args, "--format", "json", code=code).stdout)


def test_published_example_fails_with_ts_in_seconds_at_ts(cli: RunCli) -> None:
    document = report(cli, "-t", DOCS_PAYMENT, "-s", PAYMENT_SAMPLE, code=1)
    [result] = document["results"]
    assert result["status"] == "failed"
    assert ("ts-in-seconds", "/ts") in [(f["code"], f["path"]) for f in result["findings"]]
    assert document["ok"] is False


def test_corrected_example_passes(cli: RunCli) -> None:
    document = report(cli, "-t", PAYMENT, "-s", PAYMENT_SAMPLE, code=0)
    assert document["ok"] is True
    assert document["summary"] == {"total": 1, "passed": 1, "failed": 0, "errors": 0,
                                   "cancelled": 0, "skipped": 0, "warnings": 0}


def test_json_report_follows_the_contract_exactly(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text(
        "function handler(w) {\n  console.log('seen', w.eventType);\n"
        "  w.payload = {name: 'dodo/' + w.eventType, data: {id: w.payload.data.payment_id},\n"
        "    ts: new Date(w.payload.timestamp).getTime()};\n  return w;\n}\n")
    write_json(in_tmp / "p.json", {"business_id": "bus_1", "type": "payment.succeeded",
                                   "timestamp": "2026-03-14T09:26:53.589Z",
                                   "data": {"payment_id": "pay_1"}})
    document = report(cli, "t.js", "p.json", "--endpoint-url", "https://inn.gs/e/secretkey1234",
                      "--no-dodo-check", code=0)
    [result] = document.pop("results")
    assert isinstance(result.pop("duration_ms"), float)
    assert document == {"version": 1, "ok": True, "summary": {
        "total": 1, "passed": 1, "failed": 0, "errors": 0, "cancelled": 0, "skipped": 0,
        "warnings": 1}}
    assert result == {
        "transform": "t.js", "sample": "p.json", "event_type": "payment.succeeded",
        "status": "passed",
        "request": {"method": "POST", "url": "https://inn.gs/e/****1234", "headers": {},
                    "payload": {"name": "dodo/payment.succeeded", "data": {"id": "pay_1"},
                                "ts": 1773480413589}},
        "findings": [{
            "code": "id-missing", "severity": "warning",
            "message": "the event has no id: retries and replays run your functions again",
            "path": "/id",
            "hint": "e.g. id: `${webhook.eventType}:${p.payment_id}:${webhook.payload.timestamp}`",
        }],
        "console": [{"level": "log", "text": "seen payment.succeeded"}],
    }


def test_text_transcript(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text("function handler(w) {\n  return w.payload.data.customer.id;\n}\n")
    write_json(in_tmp / "dispute.opened.json",
               {"business_id": "b", "type": "dispute.opened", "timestamp": "2026-01-01T00:00:00Z",
                "data": {"dispute_id": "dis_1"}})
    result = cli("test", "t.js", "dispute.opened.json", "--no-dodo-check", code=1)
    text = re.sub(r"\d+\.\d+", "N", result.stdout)
    assert [line.rstrip() for line in text.splitlines()] == [
        "t.js",
        "Sample         ┃ Status ┃ Findings     ┃  ms",
        "━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━",
        "dispute.opened │ error  │ js-exception │ N",
        "",
        "t.js × dispute.opened: error",
        "  ✗ js-exception t.js:2:10: TypeError: cannot read property 'id' of undefined",
        "                 hint: guard fields that may be null or absent (?. and ??)",
        "",
        "0 passed, 0 failed, 1 error, 0 cancelled, 0 skipped, 0 warnings in N s",
    ]
    assert result.stderr == ""


def test_project_config_runs_the_corrected_transforms(cli: RunCli,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    document = report(cli, code=0)
    assert document["summary"] == {"total": 168, "passed": 30, "failed": 0, "errors": 0,
                                   "cancelled": 0, "skipped": 138, "warnings": 0}
    ran = {(r["transform"].split("/")[-1], r["event_type"]) for r in document["results"]
           if r["status"] == "passed"}
    assert {event_type.split(".")[0] + ".js" for _, event_type in ran} == {
        "payment.js", "subscription.js", "dispute.js"}
    assert all(event_type.startswith(transform[:-3] + ".") for transform, event_type in ran)


def test_configured_event_filter_applies_to_a_transform_given_on_the_command_line(
        cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    document = report(cli, "-t", "samples/transforms/payment.js", code=0)
    for result in document["results"]:
        expected = "passed" if result["event_type"].startswith("payment.") else "skipped"
        assert result["status"] == expected, result["sample"]
    assert document["summary"]["passed"] == 9


def test_event_glob_selects_payloads(cli: RunCli) -> None:
    document = report(cli, "-t", DOCS_PAYMENT, "-s", str(WEBHOOKS), "--event", "subscription.*",
                      code=1)
    verdicts = [(r["event_type"], [f["code"] for f in r["findings"]])
                for r in document["results"]]
    assert len(verdicts) == 13
    assert all(event_type.startswith("subscription.") and codes == ["passthrough"]
               for event_type, codes in verdicts)


def test_event_glob_matching_nothing_is_an_input_error(cli: RunCli) -> None:
    result = cli("test", "-t", PAYMENT, "-s", str(WEBHOOKS), "--event", "invoice.*", code=2)
    assert result.stderr == (
        "error: no payload matches --event invoice.*\n"
        "hint: event types look like payment.succeeded; try 'payment.*'\n")


def test_ignore_and_strict(cli: RunCli) -> None:
    strict = report(cli, "-t", DOCS_PAYMENT, "-s", PAYMENT_SAMPLE, "--ignore", "ts-in-seconds",
                    "--strict", code=1)
    [result] = strict["results"]
    assert [f["code"] for f in result["findings"]] == ["name-style", "id-missing",
                                                       "user-deprecated"]
    assert result["status"] == "failed"
    loose = report(cli, "-t", DOCS_PAYMENT, "-s", PAYMENT_SAMPLE, "--ignore", "ts-in-seconds",
                   code=0)
    assert loose["results"][0]["status"] == "passed"


def test_show_output_prints_each_request_with_the_key_masked(cli: RunCli) -> None:
    result = cli("test", "-t", PAYMENT, "-s", PAYMENT_SAMPLE, "--show-output",
                 "--endpoint-url", "https://inn.gs/e/abcdefghijklmnop", code=0)
    assert '"url": "https://inn.gs/e/****mnop"' in result.stdout
    assert "abcdefghijkl" not in result.stdout
    assert '"ts": 1773480413589' in result.stdout
    # printed as the indented JSON it is, a line per member, not one escaped line
    assert '\n{\n  "method": "POST",\n  "url": "https://inn.gs/e/****mnop",\n' in result.stdout
    assert "\\n" not in result.stdout


def test_console_lines_of_a_failed_run_are_shown(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text("function handler(w) { console.log('got', w.eventType); }")
    write_json(in_tmp / "p.json", {"type": "payment.succeeded", "data": {}})
    result = cli("test", "t.js", "p.json", code=1)
    assert "  console.log: got payment.succeeded\n" in result.stdout


@pytest.mark.parametrize(("setup", "args", "stderr"), [
    pytest.param(
        lambda d: (d / "bad.json").write_text(
            '{\n  "type": "payment.succeeded",\n  "data": {,}\n}'),
        ["-t", PAYMENT, "bad.json"],
        "error: bad.json:3:12: not valid JSON: Expecting property name enclosed in double quotes\n"
        "hint: a webhook body is one JSON object\n", id="payload-not-json"),
    pytest.param(
        lambda d: (d / "empty").mkdir(), ["-t", PAYMENT, "empty"],
        "error: empty: the folder holds no .js transforms or .json payloads\n"
        "hint: point at the folder that holds them\n", id="empty-folder"),
    pytest.param(
        lambda d: None, ["-t", PAYMENT, "missing.json"],
        "error: missing.json: no such payload file\n"
        "hint: check the path (relative to the current folder)\n", id="missing-payload"),
    pytest.param(
        lambda d: None, ["-t", "missing.js", "-s", PAYMENT_SAMPLE],
        "error: missing.js: no such transform file\n"
        "hint: check the path, or list transforms in the config\n", id="missing-transform"),
    pytest.param(
        lambda d: None, ["-t", PAYMENT, "--format", "xml"],
        "error: Invalid value for '--format' / '-f': 'xml' is not one of text, json, junit, "
        "github, short\nhint: see 'dodo-inngest test --help'\n",
        id="unknown-format"),
    pytest.param(
        lambda d: None, ["-t", PAYMENT, "--ignore", "ts-in-second"],
        "error: unknown rule code 'ts-in-second' in --ignore\n"
        "hint: did you mean 'ts-in-seconds'? 'dodo-inngest rules' lists every code\n",
        id="unknown-ignore-code"),
    pytest.param(
        lambda d: (d / "p.json").write_text("[1, 2]"), ["-t", PAYMENT, "p.json"],
        "error: p.json: the payload is an array, not a Dodo webhook object\n"
        "hint: a Dodo body looks like {business_id, type, timestamp, data}\n", id="array-payload"),
    pytest.param(
        lambda d: (d / "p.json").write_bytes(b'{"type": "caf\xe9"}'), ["-t", PAYMENT, "p.json"],
        "error: p.json: not UTF-8 text (byte 13)\n"
        "hint: Dodo sends UTF-8 JSON; save the file as UTF-8\n", id="payload-not-utf8"),
    pytest.param(
        lambda d: (d / "p.json").write_text("[" * 100_000), ["-t", PAYMENT, "p.json"],
        "error: p.json: the JSON is nested too deeply to read\n"
        "hint: a webhook body is one JSON object\n", id="payload-too-deep"),
    pytest.param(
        lambda d: (d / "notes.txt").write_text("x"), ["notes.txt"],
        "error: notes.txt: cannot tell whether this is a transform or a payload\n"
        "hint: name transforms *.js and payloads *.json, or use -t/-s\n", id="unknown-suffix"),
    pytest.param(
        lambda d: None, [],
        "error: no transform to test\n"
        "hint: name a .js file, use -t FILE, or list transforms in the config; 'dodo-inngest "
        "init' starts a project with them\n",
        id="nothing-configured"),
    pytest.param(
        lambda d: None, ["-t", PAYMENT, "-s", PAYMENT_SAMPLE, "--env", "NOEQUALS"],
        "error: --env 'NOEQUALS': expected KEY=VALUE\nhint: e.g. --env REGION=eu\n",
        id="bad-env"),
    pytest.param(
        lambda d: None, ["-t", PAYMENT, "--time-limit", "0"],
        "error: --time-limit 0: out of range (1–60,000 ms)\n"
        "hint: the sandbox limits are always on; pick a value in the range\n",
        id="time-limit-too-small"),
])
def test_bad_input_is_one_plain_line_and_exit_2(cli: RunCli, in_tmp: Path,
                                                setup: Callable[[Path], object],
                                                args: list[str], stderr: str) -> None:
    setup(in_tmp)
    result = cli("test", *args, code=2)
    assert result.stderr == stderr
    assert result.stdout == ""
