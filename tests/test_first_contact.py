"""The first-contact issue: output that is exact, readable at 80 columns, quiet when repeated,
safe with snapshots, and consistent across commands; a test per item, named by its number."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
import typer
from inngest_server import InngestServer
from rich.console import Console
from test_capture import counts, write_capture

from dodo_inngest_cli.cli import app
from dodo_inngest_cli.cli.output import Output
from dodo_inngest_cli.cli.views import ListenView
from dodo_inngest_cli.inngest import MAX_TS_MS, check_payload

from conftest import TRANSFORMS, WEBHOOKS, RunCli, write_json

PAYMENT = str(TRANSFORMS / "payment.js")
SUBSCRIPTION = str(TRANSFORMS / "subscription.js")
SAMPLE = str(WEBHOOKS / "payment.succeeded.json")
ACTIVE_ID = "subscription.active:sub_6Tr2Yk8Pw4Nc1Vb9:2026-03-"
VALID = {"name": "dodo/test.sent", "id": "t-1", "ts": 1_773_480_413_589, "data": {"n": 1}}


# -- 1-4. exact means exact ---------------------------------------------------------------


@pytest.mark.parametrize("columns", ["40", "60", "80"])
def test_item01_a_dry_run_is_never_cropped(cli: RunCli, monkeypatch: pytest.MonkeyPatch,
                                           columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    out = cli("send", "-t", SUBSCRIPTION, "subscription.active", "--dev", "--dry-run",
              code=0).stdout
    [line] = [line for line in out.splitlines() if '"id"' in line]
    assert re.fullmatch(r'  "id": "subscription\.active:sub_\w+:2026-[\d:.TZ-]+",', line)
    shown = cli("test", "-t", SUBSCRIPTION, "-s", "subscription.active", "--show-output",
                code=0).stdout
    assert ACTIVE_ID in shown and line.strip() in shown


def test_item02_dry_runs_need_no_key(cli: RunCli, in_tmp: Path) -> None:
    write_json(in_tmp / "events.json", [VALID, {**VALID, "id": "t-2"}])
    batch = cli("send", "--event", "events.json", "--batch", "100", "--dry-run", code=0)
    assert batch.stdout.splitlines()[0] == "POST https://inn.gs/e/<INNGEST_EVENT_KEY>"
    assert batch.stderr == ("warning: no event key is set: the requests show "
                            "<INNGEST_EVENT_KEY> in its place (set INNGEST_EVENT_KEY or "
                            "--event-key to send)\n")
    assert "2 would-send → https://inn.gs/e/<INNGEST_EVENT_KEY> (no event key set: a " \
           "placeholder stands in for it)" in batch.stdout
    stored = cli("send", "-t", PAYMENT, "payment.succeeded", "--inngest-transform", "default",
                 "--dry-run", code=0)
    assert "payment.succeeded.json: Inngest stores" in stored.stdout
    replayed = cli("replay", SAMPLE, "-t", PAYMENT, "--dry-run", code=0)
    assert counts(replayed.stdout)["would-send"] == 1


def test_item02_a_real_send_still_needs_a_key(cli: RunCli) -> None:
    assert cli("send", "-t", PAYMENT, SAMPLE, code=2).stderr.startswith(
        "error: no Inngest event key\n")


def test_item03_a_replay_dry_run_shows_what_it_would_send(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 2)
    args = ["replay", str(capture), "-t", PAYMENT, "--dev", "--dry-run", "--no-dodo-check"]
    shown = cli(*args, "--show-output", code=0).stdout
    assert shown.startswith("POST http://127.0.0.1:8288/e/NO_EVENT_KEY_SET\n")
    assert shown.count('"name": "dodo/payment.succeeded"') == 2
    counted = counts(shown)
    assert (counted["would-send"], counted["skipped"], counted["accepted"]) == (2, 0, 0)
    document = json.loads(cli(*args, "--format", "json", code=0).stdout)
    assert document["summary"]["would-send"] == 2
    [request] = document["requests"]
    assert [e["id"] for e in request["payload"]] == [
        f"payment.succeeded:pay_00000{n}:2026-03-0{n + 1}T10:00:00.000Z" for n in (0, 1)]
    assert not (tmp_path / ".dodo-inngest-replay-state.jsonl").exists()


def test_item04_the_dev_server_target_says_what_it_is(cli: RunCli) -> None:
    out = cli("send", "-t", PAYMENT, SAMPLE, "--dev", "--dry-run", code=0).stdout
    assert out.splitlines()[-1] == (
        "1 would-send → http://127.0.0.1:8288/e/NO_EVENT_KEY_SET (the Dev Server, which "
        "accepts any key)")


# -- 5-7. readable at 80 columns and when piped --------------------------------------------


def every_command() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = [()]
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        found.append((name,))
        found += [(name, sub) for sub in getattr(command, "commands", {})]
    return found


@pytest.mark.parametrize("path", every_command(), ids=lambda p: " ".join(p) or "root")
def test_item05_help_reads_cleanly_at_80_columns(cli: RunCli, monkeypatch: pytest.MonkeyPatch,
                                                 path: tuple[str, ...]) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = cli(*path, "--help", code=0).stdout
    command = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]  # type: ignore[attr-defined]
    options = [o for p in command.params for o in getattr(p, "opts", []) + getattr(
        p, "secondary_opts", []) if o.startswith("-")]
    for option in options:
        assert re.search(rf"(^|[\s,/]){re.escape(option)}([\s,/]|$)", text, re.M), option
    assert not re.search(r"<(bool|int|float|str|list|Path|text|choice)\b[^>]*>", text)
    assert not re.search(r"…\s*$", text, re.M)  # nothing cut short
    assert "Value error" not in text and "Input should" not in text
    examples = text.split("Examples:")[1].split("\n\n")[1] if "Examples:" in text else ""
    for line in text.splitlines():
        assert len(line) <= 80 or line in examples, line
    assert not re.search(r"\w-\n\s*\w", text)  # no word broken at a hyphen


def test_item06_send_table_keeps_every_identifier_at_80_columns(
        cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with InngestServer() as dev:
        out = cli("send", "-t", SUBSCRIPTION, "subscription.active", "subscription.plan_changed",
                  "--dev", "--base-url", dev.url, code=0).stdout
        ids = [r.id for r in dev.received]
    for whole in ("subscription.active.json", "dodo/subscription.active",
                  "dodo/subscription.plan_changed", *ids):
        assert whole in out


@pytest.mark.parametrize("width", [60, 120])
def test_item06_listen_table_keeps_every_identifier(width: int) -> None:
    from dodo_inngest_cli.listener import Received

    console = Console(file=io.StringIO(), width=width, color_system=None)
    view = ListenView(console)
    view.recent = [Received("2026-03-14T10:00:00.000Z", "msg_2Nv8cQxV6tB3kLm9WpR4",
                            "subscription.update_payment_method", 200, True)]
    console.print(view._table(), soft_wrap=True)
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    for whole in ("msg_2Nv8cQxV6tB3kLm9WpR4", "subscription.update_payment_method", "Verified",
                  "Forwarded", "HTTP"):
        assert whole in shown


def test_item06_codes_and_hints_are_not_cut_at_60_columns(cli: RunCli, in_tmp: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    (in_tmp / "t.js").write_text("function handler(w) { return w.payload.data.x.y; }")
    out = cli("test", "-t", "t.js", "-s", SAMPLE, code=1).stdout
    assert "js-exception" in out
    failing = cli("test", "-t", str(TRANSFORMS / "dodo-docs" / "payment.js"), "-s", SAMPLE,
                  code=1).stdout
    assert "${webhook.payload.timestamp}" in failing.replace("\n", "") or \
        "id-missing" in failing


def test_item07_no_color_on_a_terminal_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stdout", screen)
    output = Output(environ={"NO_COLOR": "1"})
    from rich.text import Text

    output.out.print(Text("bold", style="bold"), Text("dim", style="dim red"))
    output.json({"a": 1})
    assert output.out.is_terminal
    assert "\x1b" not in screen.getvalue()
    assert screen.getvalue() == 'bold dim\n{\n  "a": 1\n}\n'


# -- 8. quiet when repeated -------------------------------------------------------------


def test_item08_a_syntax_error_is_reported_once(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "syntax.js").write_text("function handler(w) {\n  return w\n  ]; }\n")
    out = cli("test", "-t", "syntax.js", code=1).stdout
    assert out.count("js-syntax") == 2  # the one-row table, the one block
    assert re.search(r"all \d+ samples", out)
    assert re.search(r"syntax\.js × \d+ samples \(abandoned_checkout\.detected, "
                     r"abandoned_checkout\.recovered, credit\.added, credit\.balance_low, "
                     r"credit\.deducted and \d+ more\): error", out)
    assert len(out.splitlines()) < 20


def test_item08_identical_findings_are_one_block(cli: RunCli) -> None:
    out = cli("test", "-t", str(TRANSFORMS / "dodo-docs" / "payment.js"), code=1).stdout
    assert out.count("✗ passthrough") == 1
    assert "samples (" in out
    # what differs per sample is named for what it is: here the event type
    assert "the payload is the raw Dodo '<type>' body" in " ".join(out.split())


def test_item08_quiet_and_only_failures(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text(
        "function handler(w) {\n  if (w.eventType === 'payment.failed') w.payload = {data: {}};"
        "\n  else w.cancel = true;\n  return w;\n}\n")
    quiet = cli("test", "-t", "t.js", "--quiet", code=1).stdout
    assert quiet.count("\n") == 1 and quiet.startswith("0 passed, 2 failed, 0 errors, 54 cancelled")
    nothing_failed = cli("test", "-t", "t.js", "--only-failures", "--event", "refund.*").stdout
    assert nothing_failed.startswith("0 passed, 0 failed, 0 errors, 2 cancelled")  # no blank
    failures = cli("test", "-t", "t.js", "--only-failures", "--event", "payment.*",
                   code=1).stdout
    assert not re.search(r"^payment\.succeeded ", failures, re.M)
    assert re.search(r"^payment\.failed .*│ failed", failures, re.M)


def test_item08_a_long_literal_list_is_shortened(cli: RunCli) -> None:
    err = cli("samples", "show", "payment.succeeded", "--set", "data.currency=XXX",
              code=0).stderr
    assert "Input should be one of" in " ".join(err.split())
    assert "'ZMW'" not in err


# -- 9-11. snapshots and the bundled library ----------------------------------------------


def test_item09_prune_stays_inside_the_run(cli: RunCli, in_tmp: Path) -> None:
    args = ["-t", PAYMENT, "--snapshots", "snaps"]
    cli("test", *args, "--update-snapshots", code=0)
    before = sorted(Path("snaps").rglob("*.json"))
    filtered = cli("test", *args, "--event", "payment.failed", "--prune", code=0).stdout
    assert sorted(Path("snaps").rglob("*.json")) == before
    assert "matched by no transform × sample" not in filtered
    one = cli("test", *args, "-s", SAMPLE, code=0).stdout
    assert "matched by no transform × sample" not in one
    named = cli("test", PAYMENT, "payment.succeeded", "--snapshots", "snaps", "--prune",
                code=0).stdout  # a bundled sample named as a path narrows the run too
    assert sorted(Path("snaps").rglob("*.json")) == before
    assert "matched by no transform × sample" not in named
    gone = before[0]
    stale = gone.with_name("payment.renamed.json")
    stale.write_text(gone.read_text())
    pruned = cli("test", *args, "--prune", code=0).stdout
    assert f"snapshot pruned: {stale}" in pruned and not stale.exists()


def test_item10_a_cancelled_delivery_snapshot_records_the_verdict(cli: RunCli,
                                                                  in_tmp: Path) -> None:
    cli("test", "-t", PAYMENT, "-s", "refund.succeeded", "--snapshots", "snaps",
        "--update-snapshots", code=0)
    [snapshot] = Path("snaps").rglob("*.json")
    assert json.loads(snapshot.read_text()) == {"cancelled": True}


def test_item11_strict_does_not_fail_on_the_bundled_library(cli: RunCli, in_tmp: Path) -> None:
    cli("init", "shop", code=0)
    cli("test", "--config", "shop/dodo-inngest.toml", "--update-snapshots", code=0)
    cli("test", "--strict", "--config", "shop/dodo-inngest.toml", code=0)
    (in_tmp / "cancel.js").write_text("function handler(w) { w.cancel = true; return w; }")
    result = cli("test", "-t", "cancel.js", "--strict", "--show-output", code=0)
    assert "(a bundled sample, off the model on purpose)" in " ".join(result.stdout.split())


def test_item11_strict_fails_on_the_users_own_off_model_sample(cli: RunCli, in_tmp: Path) -> None:
    document = json.loads((WEBHOOKS / "variants" / "credit.added.numeric-amounts.json")
                          .read_text())
    write_json(in_tmp / "credit.json", document)
    document = json.loads(cli("test", "-t", PAYMENT, "-s", "credit.json", "--strict",
                              "--format", "json", code=1).stdout)
    [result] = document["results"]
    assert result["status"] == "failed"
    assert result["findings"][0]["message"].startswith("the payload at /data/amount: ")


# -- 12-19. consistent and copy-pasteable --------------------------------------------------


def test_item12_run_accepts_bundled_sample_names(cli: RunCli) -> None:
    assert json.loads(cli("run", SUBSCRIPTION, "subscription.active", code=0).stdout)[
        "name"] == "dodo/subscription.active"


def test_item13_global_options_after_the_command(cli: RunCli) -> None:
    assert cli("rules", "--version", code=0).stdout.startswith("dodo-inngest ")
    with InngestServer() as dev:
        result = cli("send", "-t", PAYMENT, SAMPLE, "--dev", "--base-url", dev.url, "--debug",
                     code=0)
    assert "debug: POST " in result.stderr


def test_item14_a_dead_dev_server_fails_fast_with_the_hint(cli: RunCli, tmp_path: Path) -> None:
    started = time.monotonic()
    sent = cli("send", "-t", PAYMENT, SAMPLE, "--dev", "--base-url", "http://127.0.0.1:9",
               code=1)
    replayed = cli("replay", SAMPLE, "-t", PAYMENT, "--dev", "--base-url", "http://127.0.0.1:9",
                   "--state", str(tmp_path / ".s.jsonl"), code=1)
    assert time.monotonic() - started < 5
    hint = "hint: is the Dev Server running? npx inngest-cli@latest dev (at http://127.0.0.1:9)"
    assert sent.stderr.splitlines()[-2:] == [
        f"error: http://127.0.0.1:9/e/NO_EVENT_KEY_SET: connection refused "
        f"({os.path.relpath(SAMPLE)})", hint]
    assert replayed.stderr.splitlines()[-1] == hint


def test_item16_a_standalone_config_in_pyproject_form_works(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "dodo-inngest.toml").write_text(
        '[tool.dodo-inngest]\nsamples = []\n[[tool.dodo-inngest.transforms]]\n'
        f'file = "{PAYMENT}"\nevents = ["payment.*"]\n')
    document = json.loads(cli("test", "--format", "json", code=0).stdout)
    assert document["summary"]["passed"] == 9


def test_item17_a_transform_exception_is_an_error_not_a_rejection(
        cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "t.js").write_text("function handler(w) { throw new Error('nope'); }")
    with InngestServer() as dev:
        result = cli("replay", SAMPLE, "-t", str(tmp_path / "t.js"), "--dev", "--base-url",
                     dev.url, "--state", str(tmp_path / ".s.jsonl"), code=1)
    assert (counts(result.stdout)["error"], counts(result.stdout)["rejected"]) == (1, 0)
    assert "error: body-" in result.stderr and "js-exception" in result.stderr


def test_item19_ts_at_exactly_2100_is_accepted_like_inngest_does() -> None:
    event = {**VALID, "ts": MAX_TS_MS}
    assert [f.code for f in check_payload(event, now_ms=MAX_TS_MS)] == []
    assert [f.code for f in check_payload({**event, "ts": MAX_TS_MS + 1},
                                          now_ms=MAX_TS_MS)] == ["ts-out-of-range"]
    with InngestServer() as dev:
        accepted = dev.ingest("k", json.dumps(event).encode(), {})
        refused = dev.ingest("k", json.dumps({**event, "ts": MAX_TS_MS + 1}).encode(), {})
    assert (accepted[0], refused) == (200, (400, {"ids": [""], "status": 400,
                                                  "error": "timestamp is after Jan 1, 2100"}))


def test_item18_init_in_a_subfolder_says_where_github_reads_the_workflow(
        cli: RunCli, in_tmp: Path) -> None:
    import subprocess

    import yaml

    subprocess.run(["git", "init", "-q", str(in_tmp)], check=True)
    result = cli("init", "shop", code=0)
    workflow = in_tmp / "shop" / ".github" / "workflows" / "dodo-inngest.yml"
    assert not (in_tmp / ".github").exists()  # nothing written outside the folder named
    assert result.stderr.startswith(
        "warning: GitHub reads workflows only at the repository's root: move "
        f"shop/.github/workflows/dodo-inngest.yml to {in_tmp}/.github/workflows/"
        "dodo-inngest.yml (it runs in shop as written)\n")
    job = yaml.safe_load(workflow.read_text())["jobs"]["transforms"]
    assert job["defaults"]["run"]["working-directory"] == "shop"
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload"))
    assert upload["with"]["path"] == "shop/dodo-inngest.xml"


# -- a new user's mistakes, each one line with a hint (the README review) ---------------------


@pytest.mark.parametrize(("setup", "args", "expected"), [
    (lambda d: (d / "lib").mkdir(), ["test", "-t", "lib"],
     "error: lib: is a folder, not a transform file\n"
     "hint: name a .js file; 'dodo-inngest test FOLDER' tests every transform and payload in a "
     "folder\n"),
    (None, ["test", "-t", PAYMENT, "-s", "nope/"],
     "error: nope: no such payload file\n"
     "hint: check the path (relative to the current folder)\n"),
    (None, ["test", "-t", PAYMENT, "-s", "payment.succeded"],
     "error: payment.succeded: no such payload file or folder, nor a bundled sample name\n"
     "hint: did you mean 'payment.succeeded'? 'dodo-inngest samples list' shows them all\n"),
    (None, ["verify", "nope.jsonl"],  # the path is checked before the missing secret
     "error: nope.jsonl: no such capture or payload file\n"
     "hint: dodo-inngest listen --capture FILE writes captures\n"),
    (lambda d: (d / "notes.txt").write_text("x"), ["replay", "notes.txt", "-t", PAYMENT,
                                                   "--dry-run"],
     "error: notes.txt: not a capture (.jsonl) or payload (.json) file\n"
     "hint: captures end in .jsonl (one delivery a line), payload files in .json\n"),
    (lambda d: (d / "empty.json").write_text(" \n"), ["run", PAYMENT, "empty.json"],
     "error: empty.json: empty: there is no JSON in it\n"
     "hint: a webhook body is one JSON object\n"),
    (lambda d: (d / "afile").write_text("x"), ["samples", "export", "afile"],
     "error: afile: cannot create this folder: a file is in the way\n"
     "hint: name a folder (or a new one), not a file or a path through one\n"),
    (None, ["listen", "--host", "999.1.1.1", "--port", "0"],
     "error: cannot listen on 999.1.1.1:0: "),
    (lambda d: (d / "big.json").write_text('{"name": "dodo/x", "data": {"a":\n 1e400}}'),
     ["send", "--event", "big.json", "--dry-run"],
     "error: big.json:2:2: not valid JSON: 1e400 is beyond the range of a JSON number (a "
     "double)\nhint: use a number a double can hold\n"),
    (None, ["send", "-t", PAYMENT, "payment.succeeded", "--url", "https://inn.gs/e/k",
            "--wait", "5"],
     "error: --wait looks the runs up on the Dev Server: it needs --dev (or INNGEST_DEV)\n"
     "hint: Inngest Cloud shows runs in its dashboard\n"),
    (None, ["send", "-t", PAYMENT, "payment.succeeded", "--url", "https://inn.gs/e/k",
            "--dev"],
     "error: --url and --dev both say where to send: give one\n"
     "hint: --dev sends to the local Dev Server; --url to the Event API URL given\n"),
    (None, ["listen", "--port", "0", "--capture", os.devnull],
     f"error: {os.devnull}: the capture file must be a regular file, not a device or a pipe\n"
     "hint: name a file it can append to and sync, e.g. deliveries.jsonl\n"),
    (lambda d: (d / "dodo-inngest.toml").write_text("time-limit = 0\n"), ["test"],
     "error: dodo-inngest.toml: time-limit 0: out of range (1–60,000 ms)\n"
     "hint: the sandbox limits are always on; pick a value in the range\n"),
], ids=["transform-folder", "missing-folder", "sample-typo", "verify-missing", "not-a-capture",
        "empty-payload", "export-onto-a-file", "listen-bad-host", "a-number-beyond-a-double",
        "wait-without-the-dev-server", "url-and-dev",
        "capture-to-a-device",
        "config-limit-before-plan"])
def test_a_new_users_mistakes_get_one_line_and_a_hint(
        cli: RunCli, in_tmp: Path, setup: object, args: list[str], expected: str) -> None:
    if callable(setup):
        setup(in_tmp)
    stderr = cli(*args, code=2).stderr.replace(f"{in_tmp}{os.sep}", "")
    assert stderr.startswith(expected), stderr
    if "--host" in args:
        assert stderr.endswith("hint: --host takes an address of this machine: 127.0.0.1 (the "
                               "default), or 0.0.0.0 for every interface\n")


def test_a_type_that_is_not_a_string_is_named_as_such(cli: RunCli, in_tmp: Path) -> None:
    write_json(in_tmp / "t.json", {"type": 5, "data": {}})
    stderr = cli("run", PAYMENT, "t.json").stderr
    assert "the payload's event type is a number (5), not a string;" in " ".join(stderr.split())


def test_coverage_says_why_a_transform_errors(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "syn.js").write_text("function handler(w) {\n  return w\n  ]; }\n")
    out = cli("coverage", "-t", "syn.js", "--event", "payment.s*", code=0).stdout
    assert "syn × payment.succeeded: js-syntax: syn.js:3:3: SyntaxError: unexpected token in " \
           "expression: ']'" in " ".join(out.split())
    document = json.loads(cli("coverage", "-t", "syn.js", "--event", "payment.succeeded",
                              "--format", "json", code=0).stdout)
    [cell] = document["types"][0]["transforms"]
    assert cell["reason"] == "js-syntax: syn.js:3:3: SyntaxError: unexpected token in " \
                             "expression: ']'"


@pytest.mark.parametrize(("args", "code"), [
    (["-t", PAYMENT, "--format", "json"], 0),
    (["-t", str(TRANSFORMS / "dodo-docs" / "payment.js"), "-s", "payment.succeeded"], 1),
], ids=["passing", "failing"])
def test_a_reader_that_goes_away_does_not_change_the_verdict(args: list[str], code: int) -> None:
    # `dodo-inngest test | head -1`: the rest of the output goes nowhere, quietly; the exit code
    # is still the run's own.
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "dodo_inngest_cli", "test", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "NO_COLOR": "1"})
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    assert process.wait(timeout=120) == code
    assert process.stderr.read() == b""
