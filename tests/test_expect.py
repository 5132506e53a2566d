"""Expectations and CI reports: snapshots, event schemas, triggers, JUnit and GitHub output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from dodo_inngest_cli.snapshots import Change, diff, without
from dodo_inngest_cli.triggers import Trigger, match, name_matches

from conftest import TRANSFORMS, WEBHOOKS, RunCli, write_json

PAYMENT = TRANSFORMS / "payment.js"
DOCS_PAYMENT = str(TRANSFORMS / "dodo-docs" / "payment.js")
SUCCEEDED = str(WEBHOOKS / "payment.succeeded.json")
FAILED = str(WEBHOOKS / "payment.failed.json")
JPY = str(WEBHOOKS / "variants" / "payment.succeeded.jpy.json")

# Each expectation rule is triggered by a test here (tests/test_rules.py checks the list).
EXPECTATION_RULES = {
    "snapshot-mismatch": "test_snapshot_round_trip",
    "snapshot-missing": "test_snapshot_missing_is_a_warning",
    "schema-mismatch": "test_schema_mismatch_names_path_and_message",
    "no-trigger": "test_no_trigger_fails_the_result",
    "trigger-unknown": "test_unevaluable_expression_is_unknown_not_a_guess",
}


def report(cli: RunCli, *args: str, code: int) -> Any:
    return json.loads(cli("test", *args, "--format", "json", code=code).stdout)


@pytest.fixture
def transform(in_tmp: Path) -> Path:
    """A copy of the corrected payment transform to edit."""
    path = in_tmp / "payment.js"
    path.write_text(PAYMENT.read_text(encoding="utf-8"), encoding="utf-8")
    return path


# -- snapshots --------------------------------------------------------------------------


def test_snapshot_round_trip(cli: RunCli, transform: Path) -> None:
    args = ["-t", "payment.js", "-s", SUCCEEDED, "-s", FAILED, "--snapshots", "snaps"]
    recorded = cli("test", *args, "--update-snapshots", code=0)
    assert "snapshot written: snaps/payment/payment.succeeded.json" in recorded.stdout
    stored = json.loads(Path("snaps/payment/payment.succeeded.json").read_text())
    assert stored["url"] == "https://inn.gs/e/****-key"
    assert stored["payload"]["name"] == "dodo/payment.succeeded"
    assert report(cli, *args, code=0)["summary"]["passed"] == 2

    transform.write_text(transform.read_text().replace(
        "total_amount: p.total_amount,", "amount: p.total_amount,").replace(
        "      metadata: p.metadata ?? {}\n", "      metadata: p.metadata ?? {},\n"
        "      source: 'dodo'\n"))
    document = report(cli, *args, code=1)
    [first, _] = document["results"]
    [mismatch] = [f for f in first["findings"] if f["code"] == "snapshot-mismatch"]
    assert mismatch["diff"] == [
        {"path": "/payload/data/amount", "kind": "added", "old": None, "new": 4999},
        {"path": "/payload/data/source", "kind": "added", "old": None, "new": "dodo"},
        {"path": "/payload/data/total_amount", "kind": "removed", "old": 4999, "new": None}]
    assert mismatch["message"].startswith("3 differences from snaps/payment/payment.succeeded"
                                          ".json: + /payload/data/amount: 4999;")
    text = cli("test", *args, code=1).stdout
    assert "    - /payload/data/total_amount: 4999\n" in text

    updated = cli("test", *args, "--update-snapshots", code=0)
    assert "snapshot updated: snaps/payment/payment.succeeded.json\n" \
           "    + /payload/data/amount: 4999\n" in updated.stdout
    assert report(cli, *args, code=0)["summary"]["passed"] == 2


def test_snapshot_missing_is_a_warning(cli: RunCli, transform: Path) -> None:
    document = report(cli, "-t", "payment.js", "-s", SUCCEEDED, "--snapshots", "snaps", code=0)
    [finding] = document["results"][0]["findings"]
    assert (finding["code"], finding["message"]) == (
        "snapshot-missing", "no snapshot at snaps/payment/payment.succeeded.json")


def test_volatile_paths_are_ignored_from_config(cli: RunCli, transform: Path) -> None:
    Path("dodo-inngest.toml").write_text('snapshot-ignore = ["/payload/ts", "/payload/id"]\n')
    args = ["-t", "payment.js", "-s", SUCCEEDED, "--snapshots", "snaps"]
    cli("test", *args, "--update-snapshots", code=0)
    transform.write_text(transform.read_text().replace(
        "ts: new Date(webhook.payload.timestamp).getTime(),", "ts: Date.now(),"))
    assert report(cli, *args, code=0)["results"][0]["findings"] == []


def test_cancelled_results_are_snapshotted_too(cli: RunCli, transform: Path) -> None:
    args = ["-t", "payment.js", "-s", str(WEBHOOKS / "refund.succeeded.json"),
            "--snapshots", "snaps"]
    cli("test", *args, "--update-snapshots", code=0)
    assert json.loads(Path("snaps/payment/refund.succeeded.json").read_text())["cancelled"] \
        is True
    transform.write_text(transform.read_text().replace("webhook.cancel = true;", ""))
    found = [f["code"] for f in report(cli, *args, code=1)["results"][0]["findings"]]
    assert "snapshot-mismatch" in found


def test_unused_snapshots_are_reported_and_pruned(cli: RunCli, transform: Path) -> None:
    Path("s").mkdir()
    for sample in (SUCCEEDED, FAILED):
        Path("s", Path(sample).name).write_text(Path(sample).read_text())
    Path("dodo-inngest.toml").write_text('samples = ["s"]\nsnapshots = "snaps"\n'
                                         '[[transforms]]\nfile = "payment.js"\n')
    cli("test", "--update-snapshots", code=0)
    Path("s/payment.failed.json").unlink()  # a sample removed: its snapshot is now unused
    result = cli("test", code=0)
    assert "1 snapshot(s) matched by no transform × sample (--prune deletes them):\n" \
           "  snaps/payment/payment.failed.json\n" in result.stdout
    document = report(cli, "--prune", code=0)
    assert document["snapshots"]["pruned"] == ["snaps/payment/payment.failed.json"]
    assert not Path("snaps/payment/payment.failed.json").exists()
    assert Path("snaps/payment/payment.succeeded.json").exists()


def test_snapshot_that_is_not_json_is_an_input_error(cli: RunCli, transform: Path) -> None:
    Path("snaps/payment").mkdir(parents=True)
    Path("snaps/payment/payment.succeeded.json").write_text('{\n  "method": "POST",\n}')
    result = cli("test", "-t", "payment.js", "-s", SUCCEEDED, "--snapshots", "snaps", code=2)
    assert result.stderr == (
        "error: snaps/payment/payment.succeeded.json:3:1: not valid JSON: Expecting property "
        "name enclosed in double quotes\n"
        "hint: fix it, or delete it and run with --update-snapshots\n")


def test_structural_diff() -> None:
    old = {"a": 1, "b": [1, 2, 3], "c": {"d": True}, "e": "x"}
    new = {"a": 1.5, "b": [1, 2], "c": {"d": True, "f": None}, "g": 0}
    assert diff(old, new) == [
        Change("/a", "changed", 1, 1.5), Change("/b/2", "removed", 3, None),
        Change("/c/f", "added", None, None), Change("/e", "removed", "x", None),
        Change("/g", "added", None, 0)]
    assert diff({"n": 1}, {"n": True}) == [Change("/n", "changed", 1, True)]
    assert without({"p": {"ts": 1, "items": [{"at": 1, "k": 2}]}}, ["/p/ts", "/p/items/*/at"]) \
        == {"p": {"items": [{"k": 2}]}}


# -- schemas ----------------------------------------------------------------------------


def schema_dir(root: Path, schema: dict[str, Any]) -> Path:
    (root / "schemas" / "dodo").mkdir(parents=True)
    write_json(root / "schemas" / "dodo" / "payment.succeeded.json", schema)
    return root / "schemas"


def test_schema_mismatch_names_path_and_message(cli: RunCli, transform: Path) -> None:
    schema_dir(Path.cwd(), {"type": "object", "required": ["payment_id", "amount"],
                            "properties": {"currency": {"enum": ["USD", "EUR"]}}})
    document = report(cli, "-t", "payment.js", "-s", SUCCEEDED, "-s", JPY, "--schemas",
                      "schemas", code=1)
    passing, failing = document["results"]
    assert [(f["path"], f["message"]) for f in passing["findings"]] == [
        ("/data", "/data: 'amount' is a required property")]
    assert [(f["path"], f["message"]) for f in failing["findings"]] == [
        ("/data", "/data: 'amount' is a required property"),
        ("/data/currency", "/data/currency: 'JPY' is not one of ['USD', 'EUR']")]
    assert failing["findings"][1]["hint"] == \
        "the schema is schemas/dodo/payment.succeeded.json"


def test_schema_can_validate_the_whole_event(cli: RunCli, transform: Path) -> None:
    schema_dir(Path.cwd(), {"x-dodo-inngest-validates": "event", "type": "object",
                            "required": ["name", "id", "ts", "v"]})
    [finding] = report(cli, "-t", "payment.js", "-s", SUCCEEDED, "--schemas", "schemas",
                       code=1)["results"][0]["findings"]
    assert (finding["path"], finding["message"]) == ("", "/: 'v' is a required property")


def test_invalid_schema_is_an_input_error_with_file_and_place(cli: RunCli,
                                                             transform: Path) -> None:
    schema_dir(Path.cwd(), {"type": "object", "properties": {"amount": {"type": "money"}}})
    result = cli("test", "-t", "payment.js", "-s", SUCCEEDED, "--schemas", "schemas", code=2)
    assert result.stderr.startswith(
        "error: schemas/dodo/payment.succeeded.json: not a valid JSON Schema at "
        "/properties/amount/type: 'money' is not valid under any of the given schemas\n")


def test_schema_infer_then_test_passes(cli: RunCli, transform: Path) -> None:
    result = cli("schema", "infer", "-t", "payment.js", "-s", SUCCEEDED, "-s", FAILED,
                 "--schemas", "inferred", code=0)
    assert result.stderr == ("wrote inferred/dodo/payment.failed.json\n"
                             "wrote inferred/dodo/payment.succeeded.json\n")
    schema = json.loads(Path("inferred/dodo/payment.succeeded.json").read_text())
    assert schema["properties"]["total_amount"] == {"type": "integer"}
    assert "payment_id" in schema["required"]
    assert report(cli, "-t", "payment.js", "-s", SUCCEEDED, "-s", FAILED, "--schemas",
                  "inferred", code=0)["summary"]["passed"] == 2
    again = cli("schema", "infer", "-t", "payment.js", "-s", SUCCEEDED, "--schemas", "inferred",
                code=2)
    assert again.stderr == ("error: inferred/dodo/payment.succeeded.json exists\n"
                            "hint: --force overwrites them\n")


# -- triggers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("dodo/payment.succeeded", "dodo/payment.succeeded", True),
    ("dodo/*", "dodo/payment.succeeded", True),
    ("dodo/payment.*", "dodo/payment.succeeded", True),
    ("dodo/payment.*", "dodo/subscription.active", False),
    ("payment.*", "dodo/payment.succeeded", False),
    ("dodo/pay*", "dodo/payment.succeeded", False),
    ("dodo/payment.succeeded", "dodo/payment.succeeded.late", False),
])
def test_inngest_name_matching(pattern: str, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


def test_cel_expression_true_for_one_sample_false_for_another(cli: RunCli,
                                                              transform: Path) -> None:
    write_json(Path("triggers.json"), [
        {"function": "big-payments", "event": "dodo/payment.*",
         "expression": "event.data.total_amount >= 5000 && event.data.currency == 'JPY'"},
        {"function": "all-dodo", "event": "dodo/*"}])
    document = report(cli, "-t", "payment.js", "-s", SUCCEEDED, "-s", JPY, "--triggers",
                      "triggers.json", code=0)
    eur, jpy = document["results"]
    assert [m["function"] for m in eur["triggers"]] == ["all-dodo"]
    assert [m["function"] for m in jpy["triggers"]] == ["big-payments", "all-dodo"]


def test_no_trigger_fails_the_result(cli: RunCli, transform: Path) -> None:
    Path("triggers.toml").write_text(
        '[[triggers]]\nfunction = "legacy"\nevent = "payment.*"\n')
    document = report(cli, "-t", "payment.js", "-s", SUCCEEDED, "--triggers", "triggers.toml",
                      code=1)
    [finding] = document["results"][0]["findings"]
    assert (finding["code"], finding["path"], finding["message"]) == (
        "no-trigger", "/name", "'dodo/payment.succeeded' triggers none of the 1 declared "
                               "functions")
    assert document["results"][0]["triggers"] == []


def test_no_trigger_names_the_expression_that_was_false(cli: RunCli, transform: Path) -> None:
    Path("triggers.toml").write_text(
        '[[triggers]]\nfunction = "legacy"\nevent = "payment.*"\n\n'
        '[[triggers]]\nfunction = "big-payments"\nevent = "dodo/payment.*"\n'
        'expression = "event.data.total_amount > 100000000"\n')
    document = report(cli, "-t", "payment.js", "-s", SUCCEEDED, "--triggers", "triggers.toml",
                      code=1)
    [finding] = document["results"][0]["findings"]
    assert (finding["message"], finding["hint"]) == (
        "'dodo/payment.succeeded' triggers none of the 2 declared functions: big-payments "
        "matches the name but `event.data.total_amount > 100000000` is false",
        "the expression reads the event as sent: check the fields it compares")


def test_unevaluable_expression_is_unknown_not_a_guess() -> None:
    result = match(Trigger("f", "dodo/*", "event.data.nothing.here == 1"),
                   {"name": "dodo/x", "data": {}})
    assert result.matched is None
    assert result.reason.startswith("cannot evaluate `event.data.nothing.here == 1`: ")
    from dodo_inngest_cli.triggers import check_triggers

    findings, matches = check_triggers([Trigger("f", "dodo/*", "event.data.nothing.here == 1")],
                                       {"name": "dodo/x", "data": {}})
    assert [f.code for f in findings] == ["trigger-unknown"]
    assert [m.function for m in matches] == ["f"]


@pytest.mark.parametrize(("name", "text", "stderr"), [
    ("t.json", '[{"function": "f", "event": "dodo/*", "evnt": "x"}]',
     "error: t.json: [0].evnt: unknown key\nhint: known keys: function, event, expression\n"),
    ("t.toml", '[[triggers]]\nfunction = "f"\nevent = "dodo/*"\nexpr = "true"\n',
     "error: t.toml: triggers[0].expr: unknown key\n"
     "hint: known keys: function, event, expression\n"),
    ("t.json", '[{"function": "f", "event": "dodo/pay*"}]',
     "error: t.json: [0].event: 'dodo/pay*': a wildcard may only stand at the end, right "
     "after '/' or '.'\nhint: e.g. 'dodo/*' or 'dodo/payment.*'\n"),
    ("t.json", '[{"function": "f", "event": "dodo/*", "expression": "event.data.amount >"}]',
     "error: t.json: [0].expression: `event.data.amount >` is not valid CEL at column 19\n"
     "hint: e.g. event.data.total_amount > 10000\n"),
    ("t.json", '{"function": "f"}',
     "error: t.json: expected a list of triggers\nhint: a list of {function, event, "
     'expression?}, e.g. [{"function": "fulfil", "event": "dodo/payment.succeeded"}]\n'),
])
def test_bad_triggers_file(cli: RunCli, transform: Path, name: str, text: str,
                           stderr: str) -> None:
    Path(name).write_text(text)
    result = cli("test", "-t", "payment.js", "-s", SUCCEEDED, "--triggers", name, code=2)
    assert result.stderr == stderr


# -- reports ----------------------------------------------------------------------------


def test_junit_report_parses_with_one_failure_per_failed_sample(cli: RunCli,
                                                                in_tmp: Path) -> None:
    result = cli("test", "-t", DOCS_PAYMENT, "-t", str(PAYMENT), "-s", SUCCEEDED, "-s", FAILED,
                 "--format", "junit", "--output", "report.xml", code=1)
    assert result.stdout.startswith("2 passed, 2 failed, 0 errors, 0 cancelled")
    assert result.stdout.rstrip().endswith("; report written to report.xml")
    root = ElementTree.parse("report.xml").getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    suites = {suite.get("name"): suite for suite in root}
    docs = suites[DOCS_PAYMENT]
    failures = {case.get("name"): case.find("failure") for case in docs}
    assert failures["payment.succeeded"].get("type") == "ts-in-seconds"  # type: ignore[union-attr]
    assert failures["payment.failed"].get("type") == "passthrough"  # type: ignore[union-attr]
    assert "error ts-in-seconds /ts: ts 1773480413 is in seconds" in (
        failures["payment.succeeded"].text or "")  # type: ignore[union-attr]
    assert [case.find("failure") for case in suites[str(PAYMENT)]] == [None, None]


def test_github_annotations(cli: RunCli, in_tmp: Path) -> None:
    Path("t.js").write_text("function handler(w) {\n  return w.payload.data.customer.x.y;\n}\n")
    result = cli("test", "-t", "t.js", "-s", SUCCEEDED, "--format", "github", code=1)
    assert result.stdout == (
        "::error file=t.js,line=2,title=js-exception (payment.succeeded)::t.js:2:10: TypeError: "
        "cannot read property 'y' of undefined Hint: guard fields that may be null or absent "
        "(?. and ??)\n")


def test_github_actions_env_adds_annotations_to_text(cli: RunCli, in_tmp: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("test", "-t", DOCS_PAYMENT, "-s", SUCCEEDED, code=1)
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations[0].startswith(f"::error file={DOCS_PAYMENT},line=19,title=ts-in-seconds "
                                     "(payment.succeeded)::ts 1773480413 is in seconds")
    assert [line.split(" ", 1)[0] for line in annotations] == ["::error", "::warning",
                                                              "::warning"]


def test_output_writes_json_and_keeps_a_summary_on_the_terminal(cli: RunCli,
                                                                in_tmp: Path) -> None:
    result = cli("test", "-t", str(PAYMENT), "-s", SUCCEEDED, "--format", "json", "-o",
                 "out.json", code=0)
    assert json.loads(Path("out.json").read_text())["summary"]["passed"] == 1
    assert result.stdout.startswith("1 passed, 0 failed")


def test_output_to_an_unwritable_place(cli: RunCli, in_tmp: Path) -> None:
    result = cli("test", "-t", str(PAYMENT), "-s", SUCCEEDED, "--format", "junit", "-o",
                 "missing/dir/out.xml", code=2)
    assert result.stderr == ("error: missing/dir/out.xml: cannot write the report: No such "
                             "file or directory\nhint: check the folder exists and is "
                             "writable\n")
