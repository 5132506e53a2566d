"""`dodo-inngest send` against a loopback server that follows Inngest's Event API contract."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inngest_server import Fault, InngestServer

from dodo_inngest_cli import jsonio
from dodo_inngest_cli.client import (
    EventClient,
    Target,
    request_headers,
    resolve_target,
    retry_after_seconds,
)

from conftest import TRANSFORMS, WEBHOOKS, RunCli, write_json

PAYMENT = str(TRANSFORMS / "payment.js")
DOCS_PAYMENT = str(TRANSFORMS / "dodo-docs" / "payment.js")
SAMPLE = str(WEBHOOKS / "payment.succeeded.json")
KEY = "test-event-key-8f2a91c4d7"
VALID = {"name": "dodo/test.sent", "id": "t-1", "ts": 1_773_480_413_589, "data": {"n": 1}}


@pytest.fixture
def server() -> Iterator[InngestServer]:
    with InngestServer(keys={KEY}) as running:
        yield running
    assert running.oracle_errors == []


def url(server: InngestServer, key: str = KEY) -> str:
    return f"{server.url}/e/{key}"


def send_json(cli: RunCli, *args: str, code: int) -> Any:
    """The JSON report of a `send` that exits with code."""
    return json.loads(cli("send", *args, "--format", "json", code=code).stdout)


def test_transform_and_send_one_event(cli: RunCli, server: InngestServer, in_tmp: Path) -> None:
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "--url", url(server), code=0)
    [received] = server.received
    assert received.event["name"] == "dodo/payment.succeeded"
    assert received.event["ts"] == 1773480413589
    assert received.key == KEY
    assert received.headers["user-agent"].startswith("dodo-inngest/")
    assert received.headers["content-type"] == "application/json"
    assert document["events"] == [{
        "source": SAMPLE, "name": "dodo/payment.succeeded", "outcome": "accepted",
        "event_id": received.id, "attempts": 1, "error": "", "hint": ""}]
    assert document["target"] == f"{server.url}/e/****{KEY[-4:]}"
    assert KEY not in json.dumps(document)


def test_500_then_dropped_connection_delivers_once_with_one_seed(
        cli: RunCli, server: InngestServer) -> None:
    server.fail_next(Fault("status", 500), Fault("drop"))
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "--url", url(server), code=0)
    assert len(server.requests) == 3
    seeds = {request["headers"]["x-inngest-event-id-seed"] for request in server.requests}
    assert len(seeds) == 1
    assert len(server.received) == 1
    [request] = document["requests"]
    assert [a["status"] for a in request["attempts"]] == [500, None, 200]
    assert request["attempts"][1]["note"] == "the server closed the connection without answering"


def test_400_is_not_retried_and_its_error_is_shown(cli: RunCli, server: InngestServer,
                                                   tmp_path: Path) -> None:
    events = write_json(tmp_path / "events.json", {**VALID, "ts": 1_773_480_413})
    result = cli("send", "--event", str(events), "--url", url(server), "--force", code=1)
    assert len(server.requests) == 1
    assert server.received == []
    assert (f"error: {server.url}/e/****{KEY[-4:]}: timestamp is before Jan 1, 1980 "
            f"({events})\n") in result.stderr
    assert "hint: Inngest rejected the event; 'dodo-inngest rules' explains the contract" \
        in result.stderr


def test_a_400_mid_batch_rejects_the_culprit_and_sends_the_rest_again(
        cli: RunCli, server: InngestServer, tmp_path: Path) -> None:
    events = write_json(tmp_path / "events.json", [
        VALID, {**VALID, "id": "t-2", "name": "inngest/function.failed"}, {**VALID, "id": "t-3"}])
    document = send_json(cli, "--event", str(events), "--url", url(server), "--batch", "10",
                         "--force", code=1)
    first, third = server.received
    rows = document["events"]
    assert [(r["outcome"], r["event_id"]) for r in rows] == [
        ("accepted", first.id), ("rejected", ""), ("accepted", third.id)]
    assert rows[1]["error"] == (
        "event name is reserved for internal use: inngest/function.failed")
    assert [len(json.loads(r["body"])) for r in server.requests] == [3, 1]


def test_unknown_key_is_explained_and_masked(cli: RunCli, server: InngestServer,
                                             in_tmp: Path) -> None:
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url", url(server, "wrong-key-0000aaaa"),
                 code=1)
    assert f"error: {server.url}/e/****aaaa: Event key not found ({SAMPLE})\n" in result.stderr
    assert "hint: the event key was refused: check the key and its environment" in result.stderr
    assert "wrong-key-0000" not in result.stdout + result.stderr
    assert "/e/****aaaa" in result.stdout


def test_html_error_page_is_a_clear_error(cli: RunCli, server: InngestServer) -> None:
    server.fail_next(Fault("html", 502), Fault("html", 502))
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url", url(server), "--retries", "1", code=1)
    assert ("HTTP 502 with a body that is not Inngest's JSON (text/html): "
            "'<html><body><h1>502 Bad Gateway</h1></body></html>'") in result.stderr
    assert "hint: a proxy or load balancer answered, not Inngest" in result.stderr
    assert server.received == []


def test_an_answer_that_never_ends_times_out_and_is_not_read_on(
        cli: RunCli, server: InngestServer) -> None:
    import time

    resource = pytest.importorskip("resource")  # peak memory: not on Windows
    server.fail_next(Fault("endless", 200))
    started, rss = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url", url(server), "--retries", "0",
                 "--timeout", "1", code=1)
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 64 * 1024  # KiB
    assert f"error: {server.url}/e/****c4d7: timed out" in result.stderr


@pytest.mark.parametrize(("fault", "error", "hint"), [
    (Fault("body", 200, body=b'{"status": 200}'),
     "HTTP 200 without an id for each event (0 of 1)",
     "is this an Inngest Event API URL (…/e/<key>)?"),
    (Fault("body", 200, body=b'{"ids": ["' + b"x" * (1024 * 1024) + b'"]}'),
     "HTTP 200 with a body that is not Inngest's JSON (over 1,048,576 bytes, application/json)",
     "a proxy or load balancer answered, not Inngest"),
    (Fault("body", 302, body=b"{}"), "HTTP 302", "redirected: give the Event API URL itself"),
], ids=["no-ids", "over-a-mebibyte", "redirect"])
def test_answers_that_are_not_inngests_say_what_they_are(
        cli: RunCli, server: InngestServer, fault: Fault, error: str, hint: str) -> None:
    server.fail_next(fault)
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url", url(server), "--retries", "0", code=1)
    assert error in result.stderr
    assert f"hint: {hint}" in result.stderr


def test_429_with_retry_after_is_retried(cli: RunCli, server: InngestServer) -> None:
    server.fail_next(Fault("status", 429, retry_after="0"))
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "--url", url(server), code=0)
    assert [a["status"] for a in document["requests"][0]["attempts"]] == [429, 200]
    assert len(server.received) == 1


def test_slow_answer_times_out_and_is_retried(cli: RunCli, server: InngestServer) -> None:
    server.fail_next(Fault("slow", delay=1.0))
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "--url", url(server), "--timeout", "0.3",
                         code=0)
    notes = [a["note"] for a in document["requests"][0]["attempts"]]
    assert notes[0] == "timed out"
    assert notes[-1] == "OK"


def test_retries_run_out(cli: RunCli, server: InngestServer) -> None:
    server.fail_next(*[Fault("status", 503)] * 3)
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url", url(server), "--retries", "2", code=1)
    assert len(server.requests) == 3
    assert "hint: Inngest kept failing; the retries ran out (--retries raises them)" \
        in result.stderr


def test_dry_run_sends_nothing_and_shows_the_exact_request(cli: RunCli,
                                                          server: InngestServer) -> None:
    result = cli("send", "-t", PAYMENT, SAMPLE, "--url", url(server), "--dry-run",
                 "--inngest-env", "feature/x", code=0)
    assert server.requests == []
    lines = result.stdout.splitlines()
    assert lines[0] == f"POST {server.url}/e/****{KEY[-4:]}"
    assert lines[1].startswith("user-agent: dodo-inngest/")
    assert lines[2:4] == ["content-type: application/json", lines[3]]
    assert lines[3].startswith("x-inngest-event-id-seed: ")
    assert lines[4] == "x-inngest-env: feature/x"
    assert KEY not in result.stdout + result.stderr


def test_failed_checks_block_the_send(cli: RunCli, server: InngestServer) -> None:
    result = cli("send", "-t", DOCS_PAYMENT, SAMPLE, "--url", url(server), code=1)
    assert server.requests == []
    assert "error: 1 of 1 payloads have error findings; nothing was sent\n" in result.stderr
    assert "ts-in-seconds" in result.stderr


def test_cancelled_deliveries_are_not_sent(cli: RunCli, server: InngestServer) -> None:
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "refund.succeeded", "--url", url(server),
                         code=0)
    assert [r["outcome"] for r in document["events"]] == ["accepted", "cancelled"]
    assert len(server.requests) == 1


def test_batch_groups_events_into_arrays(cli: RunCli, server: InngestServer,
                                         tmp_path: Path) -> None:
    events = write_json(tmp_path / "events.json",
                        [{**VALID, "id": f"t-{i}"} for i in range(5)])
    document = send_json(cli, "--event", str(events), "--url", url(server), "--batch", "2",
                         code=0)
    assert [json.loads(r["body"]) for r in server.requests] == [
        [{**VALID, "id": "t-0"}, {**VALID, "id": "t-1"}],
        [{**VALID, "id": "t-2"}, {**VALID, "id": "t-3"}], [{**VALID, "id": "t-4"}]]
    assert [r.id for r in server.received] == [
        r["event_id"] for r in document["events"]]


def test_same_seed_mints_the_same_ids(server: InngestServer) -> None:
    target = Target(url=url(server))
    headers = request_headers(target, "1773480413589,AAECAwQFBgcICQ==")
    with EventClient(retries=0) as client:
        first, again = (client.post(target, url=target.url, method="POST",
                                    body=jsonio.encode(VALID), count=1, headers=headers)
                        for _ in range(2))
    assert first.ids == again.ids
    assert first.ids[0].startswith("01K")


def test_wait_shows_function_runs_on_the_dev_server(cli: RunCli, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    with InngestServer(functions={"fn-payments": "dodo/payment.*"}) as dev:
        result = cli("send", "--dev", "--base-url", dev.url, "--wait", "2", "-t", PAYMENT,
                     SAMPLE, "refund.succeeded", code=0)
        [received] = dev.received
        [run] = dev.runs[received.id]
    assert f"{received.id}: run {run['run_id']} of function fn-payments: Running" \
        in result.stdout


def test_ctrl_c_while_waiting_for_runs_keeps_what_was_sent() -> None:
    import threading

    from dodo_inngest_cli.cancel import Cancel
    from dodo_inngest_cli.pipeline import Checks
    from dodo_inngest_cli.sending import from_events, send

    with InngestServer() as dev:
        target = resolve_target(dev=True, base_url=dev.url, environ={})
        cancel = Cancel()
        threading.Timer(0.3, cancel.set).start()  # Ctrl-C while the runs are looked up
        with EventClient(cancel=cancel) as client:
            report = send(from_events(VALID, "events.json", Checks(), target), target, client,
                          wait_s=30, cancel=cancel)
    document = report.to_json()
    assert [(e["outcome"], bool(e["event_id"])) for e in document["events"]] == [
        ("accepted", True)]
    assert (document["interrupted"], document["unsent"], report.exit_code) == (True, 0, 130)
    assert document["runs_error"] == "interrupted before the runs were looked up"


def test_wait_warns_when_no_function_runs(cli: RunCli) -> None:
    with InngestServer() as dev:
        result = cli("send", "--dev", "--base-url", dev.url, "--wait", "0.3", "-t", PAYMENT,
                     SAMPLE, code=0)
        [received] = dev.received
    assert f"warning: no function run started for {received.id}: is your app synced" \
        in result.stderr


def test_inngest_default_transform_shows_why_payment_functions_do_not_run(
        cli: RunCli, server: InngestServer) -> None:
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "--url", url(server),
                         "--inngest-transform", "default", "--dry-run", code=0)
    [stored] = document["stored"]
    assert stored["event"]["name"] == "webhook/request.received"
    assert stored["event"]["data"]["name"] == "dodo/payment.succeeded"
    assert ("id-missing", "/id") in [(f["code"], f["path"])
                                     for f in document["findings"]]


def test_inngest_transform_runs_on_a_body_that_is_not_an_event(
        cli: RunCli, server: InngestServer, tmp_path: Path) -> None:
    # Posting the raw Dodo body to an Inngest webhook URL: the Inngest transform makes the
    # event, so it is what the contract judges, not the body.
    raw = tmp_path / "raw.js"
    raw.write_text("function handler(w) { return w; }\n")
    shape = tmp_path / "inngest.js"
    shape.write_text("function transform(evt, headers, queryParams, raw) {\n"
                     "  return {name: 'dodo/' + evt.type, id: evt.data.payment_id, "
                     "data: evt.data};\n}\n")
    document = send_json(cli, "-t", str(raw), SAMPLE, "--url", url(server),
                         "--inngest-transform", str(shape), "--dry-run", code=0)
    [stored] = document["stored"]
    assert stored["event"]["name"] == "dodo/payment.succeeded"
    assert [f["code"] for f in document["findings"]] == []


def test_inngest_transform_from_a_file(cli: RunCli, server: InngestServer,
                                       tmp_path: Path) -> None:
    passthrough = tmp_path / "inngest.js"
    passthrough.write_text(
        "function transform(evt, headers, queryParams, raw) {\n"
        "  var out = { name: evt.name, data: evt.data || {} };\n"
        "  if (evt.id) { out.id = evt.id; }\n  if (evt.ts) { out.ts = evt.ts; }\n"
        "  out.data.content_type = headers['Content-Type'];\n  return out;\n}\n")
    document = send_json(cli, "-t", PAYMENT, SAMPLE, "--url", url(server),
                         "--inngest-transform", str(passthrough), "--dry-run", code=0)
    [stored] = document["stored"]
    assert stored["event"]["name"] == "dodo/payment.succeeded"
    assert stored["event"]["data"]["content_type"] == "application/json"
    assert document["findings"] == []


def test_environment_picks_the_target_like_the_sdk(cli: RunCli, server: InngestServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_EVENT_KEY", KEY)
    monkeypatch.setenv("INNGEST_BASE_URL", server.url)
    monkeypatch.setenv("INNGEST_ENV", "branch-7")
    send_json(cli, "-t", PAYMENT, SAMPLE, code=0)
    [received] = server.received
    assert received.headers["x-inngest-env"] == "branch-7"


@pytest.mark.parametrize(("kwargs", "environ", "expected"), [
    ({}, {"INNGEST_EVENT_KEY": "k"}, "https://inn.gs/e/k"),
    ({"dev": True}, {}, "http://127.0.0.1:8288/e/NO_EVENT_KEY_SET"),
    ({}, {"INNGEST_DEV": "1"}, "http://127.0.0.1:8288/e/NO_EVENT_KEY_SET"),
    ({}, {"INNGEST_DEV": "http://localhost:9000"}, "http://localhost:9000/e/NO_EVENT_KEY_SET"),
    ({}, {"INNGEST_DEV": "0", "INNGEST_EVENT_KEY": "k"}, "https://inn.gs/e/k"),
    ({}, {"INNGEST_EVENT_KEY": "k", "INNGEST_BASE_URL": "events.example.com/prefix",
          "INNGEST_EVENT_API_BASE_URL": "https://api.example.com"},
     "https://api.example.com/e/k"),
    ({"base_url": "http://x:1", "event_key": "flag"}, {"INNGEST_EVENT_KEY": "env"},
     "http://x:1/e/flag"),
    ({"url": "https://inn.gs/e/abc?x=1"}, {"INNGEST_DEV": "1"}, "https://inn.gs/e/abc?x=1"),
])
def test_target_precedence(kwargs: dict[str, object], environ: dict[str, str],
                           expected: str) -> None:
    assert resolve_target(environ=environ, **kwargs).url == expected  # type: ignore[arg-type]


def test_no_key_for_cloud_is_a_clear_error(cli: RunCli) -> None:
    result = cli("send", "-t", PAYMENT, SAMPLE, code=2)
    assert result.stderr == (
        "error: no Inngest event key\nhint: set INNGEST_EVENT_KEY or --event-key, pass --url, "
        "or use --dev for the Dev Server\n")


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None


def test_nothing_of_the_key_in_any_output_of_a_failing_debug_send(
        cli: RunCli, server: InngestServer) -> None:
    server.fail_next(Fault("status", 500), Fault("html", 502))
    result = cli("--debug", "send", "-t", PAYMENT, SAMPLE, "--url",
                 url(server, "sk-secret-KEY-0123456789"), "--retries", "1", code=1)
    output = result.stdout + result.stderr
    assert "debug: POST " in output
    assert "sk-secret-KEY" not in output
    assert "0123456789" not in output


def test_unreachable_dev_server_hint(cli: RunCli) -> None:
    result = cli("send", "--dev", "--base-url", "http://127.0.0.1:9", "-t", PAYMENT, SAMPLE,
                 "--retries", "0", code=1)
    assert "connection refused" in result.stderr
    assert "hint: is the Dev Server running?" in result.stderr


@pytest.mark.skipif(not os.environ.get("INNGEST_DEV_URL"), reason="needs INNGEST_DEV_URL")
def test_live_dev_server(cli: RunCli) -> None:
    import httpx

    base = os.environ["INNGEST_DEV_URL"].rstrip("/")
    document = send_json(cli, "--dev", "--base-url", base, "-t", PAYMENT, SAMPLE, code=0)
    event_id = document["events"][0]["event_id"]
    found = httpx.get(f"{base}/v1/events/{event_id}").json()
    assert found["data"]["name"] == "dodo/payment.succeeded"


def test_a_failed_runs_lookup_keeps_what_was_sent(cli: RunCli) -> None:
    with InngestServer(runs_api=False) as dev:
        result = cli("send", "--dev", "--base-url", dev.url, "--wait", "1", "-t", PAYMENT,
                     SAMPLE, code=0)
        [received] = dev.received
    assert received.id in result.stdout
    assert "1 accepted" in result.stdout
    assert ("warning: the events were sent, but their runs could not be looked up: GET "
            f"{dev.url}/v1/events/{received.id}/runs: HTTP 404") in result.stderr
