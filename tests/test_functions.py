"""--functions: the project's own Inngest functions, discovered, matched and run offline on the
transformed events; Python through the SDK's mocked trigger, TypeScript through @inngest/test."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from conftest import WEBHOOKS, RunCli, write_json

# Each function rule is triggered by a test here (tests/test_rules.py checks the list).
FUNCTION_RULES = {
    "function-failed": "test_python_functions_run_exactly_the_triggered_ones",
    "function-timeout": "test_a_function_that_loops_forever_times_out_and_the_next_sample_runs",
    "no-function-triggered": "test_no_function_triggered_is_a_warning_silenced_per_event",
    "function-not-triggered": "test_must_reach_names_the_function_and_why",
}

APP = '''\
import inngest

client = inngest.Inngest(app_id="shop", is_production=False)


@client.create_function(fn_id="record-amount",
                        trigger=inngest.TriggerEvent(event="dodo/payment.succeeded"))
def record_amount(ctx: inngest.ContextSync) -> int:
    print("recording", ctx.event.data["amount"])
    return ctx.event.data["amount"]


@client.create_function(fn_id="needs-coupon",
                        trigger=inngest.TriggerEvent(event="dodo/payment.succeeded"))
def needs_coupon(ctx: inngest.ContextSync) -> str:
    return ctx.event.data["coupon"]


@client.create_function(fn_id="big-payment", trigger=inngest.TriggerEvent(
    event="dodo/payment.succeeded", expression="event.data.amount > 100000"))
def big_payment(ctx: inngest.ContextSync) -> str:
    return "alert"
'''

TRANSFORM = '''\
function handler(webhook) {
  const p = webhook.payload.data;
  webhook.payload = {
    name: "dodo/" + webhook.eventType,
    id: webhook.eventType + ":" + p.payment_id,
    ts: new Date(webhook.payload.timestamp).getTime(),
    data: { payment_id: p.payment_id, amount: p.total_amount, currency: p.currency }
  };
  return webhook;
}
'''

APP_FUNCTIONS = [
    {"id": "record-amount", "name": "record-amount", "target": "app:client",
     "triggers": [{"event": "dodo/payment.succeeded", "expression": None}], "crons": [],
     "file": "app.py", "line": 6},
    {"id": "needs-coupon", "name": "needs-coupon", "target": "app:client",
     "triggers": [{"event": "dodo/payment.succeeded", "expression": None}], "crons": [],
     "file": "app.py", "line": 13},
    {"id": "big-payment", "name": "big-payment", "target": "app:client",
     "triggers": [{"event": "dodo/payment.succeeded",
                   "expression": "event.data.amount > 100000"}], "crons": [],
     "file": "app.py", "line": 19},
]
FAILED_COUPON = {
    "code": "function-failed", "severity": "error",
    "message": "needs-coupon failed on 'dodo/payment.succeeded': KeyError: 'coupon' (app.py:16)",
    "path": "/name", "hint": "its traceback and what it printed are shown with the result"}


def report(cli: RunCli, *args: str, code: int) -> Any:
    """The JSON report of a `test` run that exits with code."""
    return json.loads(cli("test", *args, "--format", "json", code=code).stdout)


def runs(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A result's function runs without their durations (checked to be numbers)."""
    for run in result["functions"]:
        assert isinstance(run.pop("duration_ms"), float)
    return list(result["functions"])


def big_sample(folder: Path) -> Path:
    """payment.succeeded with an amount over 100,000."""
    document = json.loads((WEBHOOKS / "payment.succeeded.json").read_text(encoding="utf-8"))
    document["data"]["total_amount"] = 250000
    return write_json(folder / "big.json", document)


@pytest.fixture
def app(in_tmp: Path) -> Path:
    """A scratch Python project: app.py with three functions and the payment transform."""
    (in_tmp / "app.py").write_text(APP, encoding="utf-8")
    (in_tmp / "payment.js").write_text(TRANSFORM, encoding="utf-8")
    return in_tmp


# -- Python functions ---------------------------------------------------------------------


def test_python_functions_run_exactly_the_triggered_ones(cli: RunCli, app: Path) -> None:
    document = report(cli, "-t", "payment.js", "-s", "payment.succeeded", "-s",
                      str(big_sample(app)), "--functions", "app:client", code=1)
    assert document["functions"] == APP_FUNCTIONS
    small, big = document["results"]
    assert (small["status"], small["findings"]) == ("failed", [FAILED_COUPON])
    assert runs(small) == [
        {"function": "record-amount", "target": "app:client", "event": "dodo/payment.succeeded",
         "status": "completed", "output": 4999, "error": None, "traceback": [],
         "printed": ["recording 4999"], "stubbed": []},
        {"function": "needs-coupon", "target": "app:client", "event": "dodo/payment.succeeded",
         "status": "failed", "output": None, "error": "KeyError: 'coupon'",
         "traceback": [{"file": "app.py", "line": 16, "function": "needs_coupon",
                        "code": 'return ctx.event.data["coupon"]'}],
         "printed": [], "stubbed": []},
    ]
    assert [(run["function"], run["status"], run["output"]) for run in runs(big)] == [
        ("record-amount", "completed", 250000), ("needs-coupon", "failed", None),
        ("big-payment", "completed", "alert")]


def test_text_report_has_a_functions_column_and_the_traceback(cli: RunCli, app: Path) -> None:
    result = cli("test", "-t", "payment.js", "-s", "payment.succeeded", "--functions",
                 "app:client", code=1)
    text = re.sub(r"\d+\.\d+", "N", result.stdout)
    assert [line.rstrip() for line in text.splitlines()] == [
        "functions (app:client): record-amount, needs-coupon, big-payment",
        "",
        "payment.js",
        "Sample            ┃ Status ┃ Findings        ┃ Functions                      ┃  ms",
        "━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━",
        "payment.succeeded │ failed │ function-failed │ ✓ record-amount ✗ needs-coupon │ N",
        "",
        "payment.js × payment.succeeded: failed",
        "  ✗ function-failed /name needs-coupon failed on 'dodo/payment.succeeded': KeyError: "
        "'coupon'",
        "                          (app.py:16)",
        "                          hint: its traceback and what it printed are shown with the "
        "result",
        "  needs-coupon failed: KeyError: 'coupon'",
        "    app.py:16 in needs_coupon",
        '      return ctx.event.data["coupon"]',
        "",
        "0 passed, 1 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N s",
    ]


def test_github_annotation_points_at_the_function_line(cli: RunCli, app: Path) -> None:
    result = cli("test", "-t", "payment.js", "-s", "payment.succeeded", "--functions",
                 "app:client", "--format", "github", code=1)
    assert result.stdout == (
        "::error file=app.py,line=16,title=function-failed (payment.succeeded)::needs-coupon "
        "failed on 'dodo/payment.succeeded': KeyError: 'coupon' (app.py:16) Hint: its "
        "traceback and what it printed are shown with the result\n")


def test_short_lines_and_the_job_summary_point_at_the_function_line(
        cli: RunCli, app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = app.parent / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = cli("test", "-t", "payment.js", "-s", "payment.succeeded", "--functions",
                 "app:client", "--format", "short", code=1)
    assert result.stdout.startswith("app.py:16:1: error function-failed: needs-coupon failed ")
    assert "| app.py:16 | payment.succeeded | `function-failed` |" in summary.read_text()


def test_junit_has_a_testcase_per_function_run(cli: RunCli, app: Path) -> None:
    result = cli("test", "-t", "payment.js", "-s", "payment.succeeded", "--functions",
                 "app:client", "--format", "junit", code=1)
    root = ElementTree.fromstring(result.stdout)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert list(cases) == ["payment.succeeded", "payment.succeeded → record-amount",
                           "payment.succeeded → needs-coupon"]
    assert (root.get("tests"), root.get("failures")) == ("3", "2")
    recorded = cases["payment.succeeded → record-amount"]
    assert (recorded.get("file"), recorded.findtext("system-out")) == ("app.py",
                                                                       "recording 4999")
    failure = cases["payment.succeeded → needs-coupon"].find("failure")
    assert failure is not None
    assert (failure.get("type"), failure.get("message"), failure.text) == (
        "function-failed", "needs-coupon on dodo/payment.succeeded: KeyError: 'coupon'",
        'app.py:16 in needs_coupon\n    return ctx.event.data["coupon"]')


def test_functions_from_the_config_replace_the_triggers_file(cli: RunCli, app: Path) -> None:
    write_json(app / "triggers.json", [{"function": "legacy", "event": "payment.*"}])
    (app / "dodo-inngest.toml").write_text(
        'triggers = "triggers.json"\nfunctions = ["app:client"]\n', encoding="utf-8")
    [result] = report(cli, "-t", "payment.js", "-s", "payment.succeeded", code=1)["results"]
    assert "triggers" not in result
    assert [f["code"] for f in result["findings"]] == ["function-failed"]
    assert [run["function"] for run in result["functions"]] == ["record-amount", "needs-coupon"]


def test_a_function_that_loops_forever_times_out_and_the_next_sample_runs(
        cli: RunCli, app: Path) -> None:
    (app / "spin.py").write_text(
        "import inngest\n\nclient = inngest.Inngest(app_id='spin', is_production=False)\n\n\n"
        "@client.create_function(fn_id='spin', trigger=inngest.TriggerEvent(event='dodo/*'))\n"
        "def spin(ctx: inngest.ContextSync) -> str:\n"
        "    while ctx.event.data['amount'] == 4999:\n"
        "        pass\n"
        "    return 'done'\n", encoding="utf-8")
    (app / "dodo-inngest.toml").write_text("[functions]\ntimeout = 1\n", encoding="utf-8")
    document = report(cli, "-t", "payment.js", "-s", "payment.succeeded", "-s",
                      str(big_sample(app)), "--functions", "spin:client", code=1)
    looped, big = document["results"]
    assert looped["findings"] == [{
        "code": "function-timeout", "severity": "error",
        "message": "spin ran past 1 s on 'dodo/payment.succeeded' and was stopped (spin.py:6)",
        "path": "/name", "hint": "a loop that never ends, or a wait on the network; if it is "
                                 "just slow, raise [functions] timeout"}]
    assert [(r["status"], r["error"]) for r in runs(looped)] == [
        ("timed-out", "stopped after 1 s")]
    assert (big["status"], [(r["status"], r["output"]) for r in runs(big)]) == (
        "passed", [("completed", "done")])


def test_what_a_function_prints_never_reaches_the_report(cli: RunCli, app: Path) -> None:
    (app / "noisy.py").write_text(
        "import os, sys, threading, time\nimport inngest\n\n"
        "client = inngest.Inngest(app_id='noisy', is_production=False)\nprint('at import')\n\n\n"
        "@client.create_function(fn_id='noisy', trigger=inngest.TriggerEvent(event='dodo/*'))\n"
        "def noisy(ctx: inngest.ContextSync) -> str:\n"
        "    print('hello')\n"
        "    sys.stderr.write('to stderr\\n')\n"
        "    os.write(1, b'straight to fd 1\\n')\n"
        "    threading.Thread(target=lambda: (time.sleep(0.05), print('late'))).start()\n"
        "    return 'ok'\n\n\n"
        "@client.create_function(fn_id='quits', trigger=inngest.TriggerEvent(event='dodo/*'))\n"
        "def quits(ctx: inngest.ContextSync) -> None:\n"
        "    time.sleep(0.5)  # noisy's thread prints meanwhile\n"
        "    os._exit(3)\n", encoding="utf-8")
    result = cli("test", "-t", "payment.js", "-s", "payment.succeeded", "-s",
                 "payment.failed", "--functions", "noisy:client", "--format", "json", code=1)
    assert result.stderr == ""
    first, second = json.loads(result.stdout)["results"]
    for found in (first, second):
        noisy, quits = runs(found)
        assert (noisy["status"], noisy["output"], noisy["printed"]) == (
            "completed", "ok", ["hello", "to stderr"])
        assert (quits["status"], quits["error"]) == ("failed",
                                                     "the python runner exited with code 3")


def test_waits_are_stubbed_and_steps_take_configured_stubs(cli: RunCli, app: Path) -> None:
    (app / "waiter.py").write_text(
        "import inngest\n\nclient = inngest.Inngest(app_id='w', is_production=False)\n\n\n"
        "@client.create_function(fn_id='waiter', trigger=inngest.TriggerEvent(event='dodo/*'))\n"
        "def waiter(ctx: inngest.ContextSync) -> dict:\n"
        "    ctx.step.sleep('nap', 7 * 24 * 3600 * 1000)\n"
        "    refund = ctx.step.wait_for_event('refund', event='dodo/refund.succeeded',\n"
        "                                     timeout=1000)\n"
        "    customer = ctx.step.run('customer', lambda: {'real': True})\n"
        "    return {'refund': refund, 'customer': customer}\n", encoding="utf-8")
    (app / "dodo-inngest.toml").write_text(
        '[functions.steps]\ncustomer = {id = "cus_1"}\n', encoding="utf-8")
    args = ["-t", "payment.js", "-s", "payment.succeeded", "--functions", "waiter:client"]
    [waited] = runs(report(cli, *args, code=0)["results"][0])
    assert (waited["status"], waited["output"], waited["stubbed"]) == (
        "stubbed-wait", {"refund": None, "customer": {"id": "cus_1"}}, ["refund"])
    text = cli("test", *args, code=0).stdout
    assert "  waiter stubbed-wait\n    null for refund (no stub in [functions.steps])\n" in text


def test_no_function_triggered_is_a_warning_silenced_per_event(cli: RunCli, app: Path) -> None:
    args = ["-t", "payment.js", "-s", "payment.failed", "--functions", "app:client"]
    [result] = report(cli, *args, code=0)["results"]
    assert (result["status"], result["functions"], result["findings"]) == ("passed", [], [{
        "code": "no-function-triggered", "severity": "warning",
        "message": "'dodo/payment.failed' triggers none of the 3 functions", "path": "/name",
        "hint": "if nothing should handle it, list it in [functions] unhandled-events; else fix "
                "the event name or a trigger"}])
    assert report(cli, *args, "--strict", code=1)["results"][0]["status"] == "failed"
    (app / "dodo-inngest.toml").write_text(
        '[functions]\nunhandled-events = ["dodo/payment.failed"]\n', encoding="utf-8")
    assert report(cli, *args, "--strict", code=0)["results"][0]["findings"] == []


def test_must_reach_names_the_function_and_why(cli: RunCli, app: Path) -> None:
    (app / "dodo-inngest.toml").write_text(
        '[functions.must-reach]\n"dodo/payment.*" = ["big-payment"]\n', encoding="utf-8")
    [result] = report(cli, "-t", "payment.js", "-s", "payment.succeeded", "--functions",
                      "app:client", "--ignore", "function-failed", code=1)["results"]
    assert result["findings"] == [{
        "code": "function-not-triggered", "severity": "error",
        "message": "'dodo/payment.succeeded' must reach big-payment ([functions.must-reach] "
                   "\"dodo/payment.*\"), but does not: `event.data.amount > 100000` is false",
        "path": "/name", "hint": "fix the event the transform sends, or the function's "
                                 "trigger"}]


def test_snapshots_can_hold_function_outputs(cli: RunCli, app: Path) -> None:
    args = ["-t", "payment.js", "-s", "payment.succeeded", "--functions", "app:client",
            "--snapshots", "snaps", "--snapshot-functions", "--ignore", "function-failed"]
    cli("test", *args, "--update-snapshots", code=0)
    stored = json.loads((app / "snaps" / "payment" / "payment.succeeded.json").read_text())
    assert stored["functions"] == [
        {"function": "record-amount", "event": "dodo/payment.succeeded", "status": "completed",
         "output": 4999},
        {"function": "needs-coupon", "event": "dodo/payment.succeeded", "status": "failed",
         "output": None, "error": "KeyError: 'coupon'"}]
    (app / "app.py").write_text(APP.replace('return "alert"', 'return "ALERT"').replace(
        'return ctx.event.data["amount"]', 'return ctx.event.data["amount"] * 2'))
    [result] = report(cli, *args, code=1)["results"]
    [mismatch] = result["findings"]
    assert mismatch["diff"] == [{"path": "/functions/0/output", "kind": "changed", "old": 4999,
                                 "new": 9998}]


def test_snapshot_functions_needs_functions_and_snapshots(cli: RunCli, app: Path) -> None:
    result = cli("test", "-t", "payment.js", "--functions", "app:client",
                 "--snapshot-functions", code=2)
    assert result.stderr == (
        "error: --snapshot-functions needs functions (--functions, or [functions] targets in "
        "the config) and snapshots (--snapshots DIR)\n"
        "hint: e.g. --functions app:client --snapshots tests/snapshots --snapshot-functions\n")


def test_run_reports_the_functions_on_stderr(cli: RunCli, app: Path) -> None:
    result = cli("run", "payment.js", "payment.succeeded", "--functions", "app:client", code=1)
    assert json.loads(result.stdout)["data"]["amount"] == 4999
    assert result.stderr.splitlines()[-4:] == [
        "functions: ✓ record-amount ✗ needs-coupon",
        "  needs-coupon failed: KeyError: 'coupon'",
        "    app.py:16 in needs_coupon",
        '      return ctx.event.data["coupon"]']


def test_replay_dry_run_runs_the_functions(cli: RunCli, app: Path) -> None:
    shutil.copy(WEBHOOKS / "payment.succeeded.json", app / "delivery.json")
    result = cli("replay", "delivery.json", "-t", "payment.js", "--dry-run", "--functions",
                 "app:client", code=1)
    assert re.fullmatch(r"error: body-\w+: function-failed: needs-coupon failed on "
                        r"'dodo/payment.succeeded': KeyError: 'coupon' \(app.py:16\)\n",
                        result.stderr), result.stderr
    refused = cli("replay", "delivery.json", "-t", "payment.js", "--dev", "--functions",
                  "app:client", code=2)
    assert refused.stderr == ("error: --functions runs your functions locally, so it needs "
                              "--dry-run\nhint: a real replay sends the events and Inngest runs "
                              "the functions\n")


# -- what cannot be loaded ------------------------------------------------------------------


@pytest.mark.parametrize(("source", "target", "stderr"), [
    pytest.param("import nothing_here\n", "broken:client",
                 "error: broken:client: cannot import broken: ModuleNotFoundError: No module "
                 "named 'nothing_here'\nhint: it is imported with {root} first on sys.path, as "
                 "pytest imports a rootdir; --python names another interpreter\n",
                 id="import-error"),
    pytest.param("raise RuntimeError('no database in CI')\n", "broken:client",
                 "error: broken:client: cannot import broken: RuntimeError: no database in CI\n"
                 "hint: it is imported with {root} first on sys.path, as pytest imports a "
                 "rootdir; --python names another interpreter\n", id="raises-at-import"),
    pytest.param("client = 'not a client'\n", "broken:client",
                 "error: broken:client: client is a str, not an Inngest client, function or "
                 "list of functions\nhint: name an inngest.Inngest client, an inngest.Function, "
                 "or a list of them, as module:attribute\n", id="wrong-type"),
    pytest.param("", "broken:client",
                 "error: broken:client: module broken has no attribute client\nhint: name an "
                 "inngest.Inngest client, an inngest.Function, or a list of them, as "
                 "module:attribute\n", id="no-attribute"),
    pytest.param("import inngest\nclient = inngest.Inngest(app_id='x', is_production=False)\n",
                 "broken:client",
                 "error: broken:client: no function was made with this client in the modules "
                 "imported so far\nhint: import the modules that define them from the client's "
                 "module, or name a list of the functions (module:attribute)\n", id="no-function"),
    pytest.param("", "broken",
                 "error: --functions broken: expected module:attribute (Python) or a .js/.ts "
                 "file\nhint: e.g. --functions app.inngest:client or --functions "
                 "src/inngest/functions.ts\n", id="no-attribute-named"),
    pytest.param(APP.replace("amount > 100000", "amount >"), "broken:client",
                 "error: broken:client: function big-payment: `event.data.amount >` is not valid "
                 "CEL at column 19\nhint: e.g. event.data.total_amount > 10000\n",
                 id="bad-expression"),
    pytest.param(APP.replace('event="dodo/payment.succeeded", expression', 'event="dodo/pay*", '
                             'expression'), "broken:client",
                 "error: broken:client: function big-payment: trigger 'dodo/pay*': a wildcard "
                 "may only stand at the end, right after '/' or '.'\nhint: e.g. 'dodo/*' or "
                 "'dodo/payment.*'\n", id="bad-wildcard"),
])
def test_a_target_that_does_not_load_is_exit_2(cli: RunCli, app: Path, source: str,
                                               target: str, stderr: str) -> None:
    (app / "broken.py").write_text(source, encoding="utf-8")
    result = cli("test", "-t", "payment.js", "-s", "payment.succeeded", "--functions", target,
                 code=2)
    assert (result.stdout, result.stderr) == ("", stderr.format(root=app.resolve()))


def test_must_reach_an_unknown_function_is_exit_2(cli: RunCli, app: Path) -> None:
    config = app / "dodo-inngest.toml"
    config.write_text('[functions.must-reach]\n"dodo/*" = ["fulfil"]\n', encoding="utf-8")
    result = cli("test", "-t", "payment.js", "--functions", "app:client", code=2)
    assert result.stderr == (
        f"error: {config}: functions.must-reach.\"dodo/*\": no function has the id 'fulfil'\n"
        "hint: the functions are: record-amount, needs-coupon, big-payment\n")


def test_python_flag_picks_the_interpreter(cli: RunCli, app: Path) -> None:
    venv.create(app / "bare", with_pip=False)
    python = app / "bare" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    result = cli("test", "-t", "payment.js", "--functions", "app:client", "--python",
                 str(python), code=2)
    assert result.stderr == (
        f"error: app:client: the inngest package is not installed for {python}\n"
        "hint: pip install inngest into the project's environment, or name the project's "
        "Python with --python\n")


def test_an_inngest_without_the_mocked_trigger_is_exit_2(cli: RunCli, app: Path) -> None:
    venv.create(app / "bare", with_pip=False)
    python = app / "bare" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    (app / "inngest").mkdir()
    (app / "inngest" / "__init__.py").write_text("", encoding="utf-8")  # an SDK too old
    result = cli("test", "-t", "payment.js", "--functions", "app:client", "--python",
                 str(python), code=2)
    assert result.stderr == (
        f"error: app:client: the inngest package for {python} has no experimental.mocked "
        "(ModuleNotFoundError: No module named 'inngest.experimental')\n"
        "hint: --functions needs inngest 0.5 or later: pip install -U 'inngest>=0.5'\n")


def test_node_missing_is_exit_2_with_the_install_command(cli: RunCli, app: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (app / "functions.ts").write_text("export {};\n", encoding="utf-8")
    monkeypatch.setenv("PATH", str(app / "no-node-here"))
    result = cli("test", "-t", "payment.js", "--functions", "functions.ts", code=2)
    assert result.stderr == (
        "error: functions.ts: running JavaScript functions needs Node.js, and 'node' is not on "
        "PATH\nhint: install Node.js 20 or later (https://nodejs.org), then in "
        f"{app.resolve()}: npm install --save-dev inngest @inngest/test tsx\n")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js on PATH")
def test_inngest_test_missing_is_exit_2_with_the_install_command(cli: RunCli,
                                                                 app: Path) -> None:
    (app / "package.json").write_text('{"name": "scratch"}', encoding="utf-8")
    (app / "src").mkdir()
    (app / "src" / "functions.js").write_text("export {};\n", encoding="utf-8")
    result = cli("test", "-t", "payment.js", "--functions", "src/functions.js", code=2)
    assert result.stderr == (
        "error: src/functions.js: @inngest/test is not installed (no node_modules/@inngest/test "
        f"above {(app / 'src').resolve()})\n"
        f"hint: in {app.resolve()}: npm install --save-dev @inngest/test\n")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js on PATH")
def test_a_missing_file_or_tsx_is_exit_2(cli: RunCli, app: Path) -> None:
    missing = cli("test", "-t", "payment.js", "--functions", "functions.ts", code=2)
    assert missing.stderr == ("error: functions.ts: no such file\nhint: name a .js or .ts file "
                              "that exports Inngest functions\n")
    installed = app / "node_modules" / "@inngest" / "test"
    installed.mkdir(parents=True)
    (installed / "package.json").write_text('{"name": "@inngest/test"}', encoding="utf-8")
    (app / "functions.ts").write_text("export {};\n", encoding="utf-8")
    result = cli("test", "-t", "payment.js", "--functions", "functions.ts", code=2)
    assert result.stderr == (
        f"error: functions.ts: TypeScript needs tsx, which is not installed in {app.resolve()}\n"
        f"hint: in {app.resolve()}: npm install --save-dev tsx\n")


# -- TypeScript functions ------------------------------------------------------------------


FUNCTIONS_TS = '''\
import { Inngest } from "inngest";

export const inngest = new Inngest({ id: "shop" });

export const recordAmount = inngest.createFunction(
  { id: "record-amount", triggers: [{ event: "dodo/payment.succeeded" }] },
  async ({ event }) => {
    console.log("recording", event.data.amount);
    return event.data.amount;
  },
);

export const needsCoupon = inngest.createFunction(
  { id: "needs-coupon", triggers: [{ event: "dodo/payment.succeeded" }] },
  async ({ event }) => {
    return (event.data as { coupon: { code: string } }).coupon.code;
  },
);

export const bigPayment = inngest.createFunction(
  { id: "big-payment",
    triggers: [{ event: "dodo/payment.succeeded", if: "event.data.amount > 100000" }] },
  async () => "alert",
);

export const spin = inngest.createFunction(
  { id: "spin", triggers: [{ event: "dodo/payment.succeeded" }] },
  async ({ event, step }) => {
    await step.sleep("nap", "7d");
    const refund = await step.waitForEvent("refund", { event: "dodo/refund.succeeded",
                                                       timeout: "1h" });
    while (event.data.amount === 4999) {}
    return { refund };
  },
);
'''


@pytest.fixture(scope="session")
def node_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch Node project with inngest, @inngest/test and tsx from the npm registry."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("needs Node.js and npm on PATH")
    folder = tmp_path_factory.mktemp("node-project")
    (folder / "package.json").write_text('{"name": "scratch", "private": true}',
                                         encoding="utf-8")
    if subprocess.run([npm, "ping"], cwd=folder, capture_output=True, timeout=60).returncode:
        pytest.skip("the npm registry is not reachable")
    installed = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "inngest@^4", "@inngest/test@^1",
         "tsx@^4"], cwd=folder, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr
    return folder


@pytest.mark.slow
def test_typescript_functions_give_the_same_verdicts(cli: RunCli, node_project: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(node_project)
    (node_project / "functions.ts").write_text(FUNCTIONS_TS, encoding="utf-8")
    (node_project / "payment.js").write_text(TRANSFORM, encoding="utf-8")
    (node_project / "dodo-inngest.toml").write_text("[functions]\ntimeout = 3\n",
                                                    encoding="utf-8")
    document = report(cli, "-t", "payment.js", "-s", "payment.succeeded", "-s",
                      str(big_sample(node_project)), "--functions", "functions.ts", code=1)
    assert [(f["id"], f["triggers"]) for f in document["functions"]] == [
        ("big-payment",
         [{"event": "dodo/payment.succeeded", "expression": "event.data.amount > 100000"}]),
        ("needs-coupon", [{"event": "dodo/payment.succeeded", "expression": None}]),
        ("record-amount", [{"event": "dodo/payment.succeeded", "expression": None}]),
        ("spin", [{"event": "dodo/payment.succeeded", "expression": None}])]
    small, big = document["results"]
    by_function = {run["function"]: run for run in runs(small)}
    assert sorted(by_function) == ["needs-coupon", "record-amount", "spin"]
    assert (by_function["record-amount"]["status"], by_function["record-amount"]["output"],
            by_function["record-amount"]["printed"]) == ("completed", 4999, ["recording 4999"])
    coupon = by_function["needs-coupon"]
    assert (coupon["status"], coupon["error"], coupon["traceback"][-1]["file"],
            coupon["traceback"][-1]["line"], coupon["traceback"][-1]["code"]) == (
        "failed", "TypeError: Cannot read properties of undefined (reading 'code')",
        "functions.ts", 16, "return (event.data as { coupon: { code: string } }).coupon.code;")
    assert (by_function["spin"]["status"], by_function["spin"]["error"]) == (
        "timed-out", "stopped after 3 s")
    assert sorted(f["code"] for f in small["findings"]) == ["function-failed",
                                                            "function-timeout"]
    assert {run["function"]: (run["status"], run["output"], run["stubbed"])
            for run in runs(big)} == {
        "big-payment": ("completed", "alert", []),
        "needs-coupon": ("failed", None, []),
        "record-amount": ("completed", 250000, []),
        "spin": ("stubbed-wait", {"refund": None}, ["refund"])}
