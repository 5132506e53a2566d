"""Capture and replay: listen, capture files, replay exactly once and resumably, verify."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from inngest_server import InngestServer
from standardwebhooks.webhooks import Webhook as Signer

from dodo_inngest_cli.capture import (
    CaptureWriter,
    Delivery,
    Problem,
    check_signature,
    load_secret,
    read_deliveries,
)
from dodo_inngest_cli.listener import Listener, ListenerConfig, Received

from conftest import ROOT, TRANSFORMS, WEBHOOKS, RunCli

SECRET = "whsec_" + base64.b64encode(b"dodo-inngest-test-secret-32bytes").decode()
PAYMENT = str(TRANSFORMS / "payment.js")
BODY = (WEBHOOKS / "payment.succeeded.json").read_text(encoding="utf-8")


def body_for(index: int, event_type: str = "payment.succeeded") -> str:
    """A compact Dodo body with its own payment id and event time."""
    document = json.loads(BODY)
    document["type"] = event_type
    document["data"]["payment_id"] = f"pay_{index:06d}"
    document["timestamp"] = f"2026-03-{1 + index % 28:02d}T10:00:00.000Z"
    return json.dumps(document, separators=(",", ":"))


def signed_headers(body: str, msg_id: str, *, when: dt.datetime | None = None,
                   secret: str = SECRET) -> dict[str, str]:
    when = when or dt.datetime.now(dt.timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Signer(secret).sign(msg_id, when, body),
            "content-type": "application/json"}


def write_capture(path: Path, count: int, *, start: int = 0) -> list[str]:
    """A capture of count signed deliveries; returns their webhook ids."""
    ids = []
    with path.open("a", encoding="utf-8") as handle:
        for index in range(start, start + count):
            body = body_for(index)
            msg_id = f"msg_{index:06d}"
            headers = {k: v for k, v in signed_headers(body, msg_id).items()}
            handle.write(Delivery(msg_id, "2026-03-14T10:00:00.000Z", headers, body, True,
                                  "").to_line() + "\n")
            ids.append(msg_id)
    return ids


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[Listener, list[Received]]]:
    received: list[Received] = []
    lock = threading.Lock()

    def note(item: Received) -> None:
        with lock:
            received.append(item)

    running = Listener("127.0.0.1", 0, ListenerConfig(
        path="/dodo", signer=load_secret(SECRET),
        capture=CaptureWriter(tmp_path / "capture.jsonl"), body_limit=64 * 1024), note)
    running.start()
    yield running, received
    running.stop()


# -- listen -------------------------------------------------------------------------------


def test_2000_signed_deliveries_from_32_clients_captured_exactly_once(
        listener: tuple[Listener, list[Received]], tmp_path: Path) -> None:
    server, _ = listener
    url = server.address + "/dodo"

    def deliver(client_index: int) -> list[int]:
        statuses = []
        with httpx.Client(timeout=30) as client:
            for n in range(client_index, 2000, 32):
                body = body_for(n)
                statuses.append(client.post(url, content=body, headers=signed_headers(
                    body, f"msg_{n:06d}")).status_code)
            for n in range(client_index, 64, 32):  # bad signatures
                body = body_for(n)
                headers = signed_headers(body, f"bad_{n:06d}")
                statuses.append(client.post(url, content=body.replace("pay_", "PAY_"),
                                            headers=headers).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = [s for batch in pool.map(deliver, range(32)) for s in batch]
    assert statuses.count(200) == 2000
    assert statuses.count(401) == 64
    items = list(read_deliveries([tmp_path / "capture.jsonl"]))
    deliveries = [d for d in items if isinstance(d, Delivery)]
    assert len(deliveries) == len(items)
    assert sorted(d.id for d in deliveries) == [f"msg_{n:06d}" for n in range(2000)]
    signer = load_secret(SECRET)
    assert {check_signature(signer, d, tolerance_s=None)[0] for d in deliveries} == {"valid"}


def test_listener_answers(listener: tuple[Listener, list[Received]], tmp_path: Path) -> None:
    server, received = listener
    url = server.address + "/dodo"
    body = body_for(1)
    with httpx.Client() as client:
        assert client.get(url).json() == {"status": "listening", "path": "/dodo"}
        assert client.post(server.address + "/other", content=body).status_code == 404
        unsigned = client.post(url, content=body)
        assert (unsigned.status_code, unsigned.json()) == (
            401, {"error": "invalid signature: Missing required headers"})
        old = client.post(url, content=body, headers=signed_headers(
            body, "msg_old", when=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6)))
        assert old.json() == {"error": "invalid signature: Message timestamp too old"}
        big = "x" * (64 * 1024 + 1)
        assert client.post(url, content=big).status_code == 413
        ok = client.post(url, content=body, headers={
            **signed_headers(body, "msg_ok"), "Authorization": "Bearer s3cr3t",
            "Cookie": "session=1"})
        assert (ok.status_code, ok.json()) == (200, {"received": "msg_ok"})
    [stored] = list(read_deliveries([tmp_path / "capture.jsonl"]))
    assert isinstance(stored, Delivery)
    assert stored.body == body
    assert stored.verified is True
    assert "authorization" not in stored.headers and "cookie" not in stored.headers
    assert stored.headers["webhook-id"] == "msg_ok"
    length = len(body.encode())
    assert [(r.status, r.delivery, r.event_type, r.verified, r.length, r.note)
            for r in received] == [
        (404, "", "", None, length, "POST to another path"),
        (401, "", "", False, length, "signature: Missing required headers"),
        (401, "", "", False, length, "signature: Message timestamp too old"),
        (413, "", "", None, 64 * 1024 + 1, "body of 65,537 bytes is over the 65,536-byte limit"),
        (200, "msg_ok", "payment.succeeded", True, length, "")]


def test_forward_and_ack_after_forward(tmp_path: Path) -> None:
    from dodo_inngest_cli.client import EventClient, Target
    from dodo_inngest_cli.pipeline import Checks
    from dodo_inngest_cli.relay import Relay
    from dodo_inngest_cli.sandbox import Transform

    with InngestServer() as inngest, EventClient(retries=0) as client:
        relay = Relay(Transform.from_file(Path(PAYMENT)), Target(f"{inngest.url}/e/k"),
                      Checks(dodo_check=False), client)
        config = ListenerConfig(capture=CaptureWriter(tmp_path / "c.jsonl"), forward=relay,
                                ack_after_forward=True)
        running = Listener("127.0.0.1", 0, config, lambda item: None)
        running.start()
        try:
            body = body_for(3)
            answer = httpx.post(running.address + "/", content=body)
            [event] = inngest.received
            assert answer.json() == {"received": answer.json()["received"],
                                     "forwarded": "accepted", "ids": [event.id]}
            assert event.event["name"] == "dodo/payment.succeeded"
            inngest.fail_next(*[__import__("inngest_server").Fault("status", 500)])
            failed = httpx.post(running.address + "/", content=body_for(4))
            assert failed.status_code == 502
        finally:
            running.stop()
    assert len(list(read_deliveries([tmp_path / "c.jsonl"]))) == 2


def test_listener_killed_mid_stream_leaves_a_readable_capture(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "dodo_inngest_cli", "listen", "--port", "0", "--capture",
         str(capture), "--secret", SECRET], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    assert process.stdout is not None
    address = process.stdout.readline().split()[-1]
    numbers = itertools.count()
    stop = threading.Event()

    def flood() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                number = next(numbers)
                body = body_for(number)
                try:
                    client.post(address, content=body,
                                headers=signed_headers(body, f"msg_{number:06d}"))
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    items = list(read_deliveries([capture]))
    problems = [i for i in items if isinstance(i, Problem)]
    deliveries = [i for i in items if isinstance(i, Delivery)]
    assert len(deliveries) > 50
    assert len(problems) <= 1
    if problems:
        assert problems[0].message.startswith("the last line is torn")
        assert problems[0].source == f"{capture}:{len(deliveries) + 1}"
    assert len({d.id for d in deliveries}) == len(deliveries)


def test_listen_command_prints_address_and_summary_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dodo_inngest_cli", "listen", "--port", "0", "--capture",
         str(tmp_path / "c.jsonl"), "--path", "/hooks/dodo"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"})
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("listening on http://127.0.0.1:") and \
        first.rstrip().endswith("/hooks/dodo")
    assert process.stdout.readline() == (
        "signatures NOT verified (DODO_PAYMENTS_WEBHOOK_KEY not set); "
        f"capturing to {tmp_path / 'c.jsonl'}. Ctrl-C stops.\n")
    httpx.post(first.split()[-1], content=body_for(1))
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert " 200 local_" in lines[0] and lines[0].endswith("payment.succeeded unverified")
    assert lines[-1] == "1 received, 0 refused, 0 forwarded, 0 cancelled, 0 forward failed"


def test_port_in_use_is_a_clear_error(cli: RunCli) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("listen", "--port", str(port), code=2)
    assert result.stderr == (f"error: cannot listen on 127.0.0.1:{port}: already in use\n"
                             "hint: --port picks another port (0 lets the system choose)\n")


def test_bad_secret_is_refused_without_showing_it(cli: RunCli) -> None:
    result = cli("listen", "--secret", "not base64 at all!", code=2)
    assert result.stderr == (
        "error: the webhook secret is not a whsec_… base64 key\n"
        "hint: copy it from Dodo's dashboard (Webhooks → the endpoint → Signing secret), or set"
        " DODO_PAYMENTS_WEBHOOK_KEY\n")


# -- capture files -------------------------------------------------------------------------


def test_torn_and_invalid_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 2)
    with capture.open("a") as handle:
        handle.write("not json\n")
        handle.write('{"v": 1, "id": "x"}\n')
    write_capture(capture, 1, start=2)
    with capture.open("a") as handle:
        handle.write('{"v": 1, "id": "torn", "body": "{\\"bus')
    items = list(read_deliveries([capture]))
    assert [i.id if isinstance(i, Delivery) else i.source for i in items] == [
        "msg_000000", "msg_000001", f"{capture}:3", f"{capture}:4", "msg_000002",
        f"{capture}:6"]
    problems = [i.message for i in items if isinstance(i, Problem)]
    assert problems[1:] == ['not a capture record (no "body" string); skipped',
                            "the last line is torn (the writer stopped mid-line); skipped"]
    # a writer appending after a crash starts on a fresh line
    writer = CaptureWriter(capture)
    writer.append(Delivery("after", "t", {}, body_for(9), None, ""))
    writer.close()
    assert [i.id for i in read_deliveries([capture]) if isinstance(i, Delivery)][-1] == "after"


FULL_DISK_WRITER = """
import resource, sys
from pathlib import Path
from dodo_inngest_cli.capture import CaptureWriter, Delivery

writer = CaptureWriter(Path(sys.argv[1]))
small = Delivery("small", "t", {}, "{}", None, "")
writer.append(small)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (Path(sys.argv[1]).stat().st_size + 100, hard))
try:
    writer.append(Delivery("big", "t", {}, "x" * 1000, None, ""))
except OSError as exc:
    print(exc.strerror)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
writer.append(Delivery("after", "t", {}, "{}", None, ""))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_an_append_the_disk_refuses_leaves_nothing_behind(tmp_path: Path) -> None:
    """A real short write (the file-size limit cuts it after 100 bytes, then EFBIG): the
    writer cuts the file back, so the refused line is not there, whole or in part."""
    capture = tmp_path / "c.jsonl"
    done = subprocess.run([sys.executable, "-c", FULL_DISK_WRITER, str(capture)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout == "File too large\n"
    assert capture.read_text(encoding="utf-8") == "".join(
        Delivery(name, "t", {}, "{}", None, "").to_line() + "\n" for name in ("small", "after"))


def test_a_failed_fsync_removes_every_line_it_was_to_cover(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real disk here fails fsync on demand, so fsync is made to fail: the first append
    syncs, a second one written meanwhile waits for that fsync (group commit), which fails:
    both raise and neither line stays."""
    import errno

    capture = tmp_path / "c.jsonl"
    writer = CaptureWriter(capture)
    writer.append(Delivery("kept", "t", {}, "{}", None, ""))
    kept = capture.read_bytes()
    syncing, release = threading.Event(), threading.Event()

    def failing_fsync(fd: int) -> None:
        syncing.set()
        release.wait(10)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    errors: list[str] = []

    def append(name: str) -> None:
        try:
            writer.append(Delivery(name, "t", {}, "{}", None, ""))
        except OSError as exc:
            errors.append(f"{name}: {exc.strerror}")

    first = threading.Thread(target=append, args=("first",))
    first.start()
    syncing.wait(10)
    second = threading.Thread(target=append, args=("second",))
    second.start()
    line = Delivery("first", "t", {}, "{}", None, "").to_line() + "\n"
    wait_until = time.monotonic() + 10
    while capture.stat().st_size < len(kept) + 2 * len(line) and time.monotonic() < wait_until:
        time.sleep(0.01)
    release.set()
    first.join(10)
    second.join(10)
    assert sorted(errors) == ["first: Input/output error", "second: Input/output error"]
    assert capture.read_bytes() == kept
    monkeypatch.undo()
    writer.append(Delivery("after", "t", {}, "{}", None, ""))
    writer.close()
    assert [d.id for d in read_deliveries([capture])] == ["kept", "after"]  # type: ignore[union-attr]


# -- replay ----------------------------------------------------------------------------------


def counts(stdout: str) -> dict[str, int]:
    """The replay summary line's counts: "5 accepted, 0 rejected, …"."""
    line = next(line for line in stdout.splitlines() if " accepted, " in line)
    return {word: int(number) for number, word in
            (part.split(" ", 1) for part in line.split(", "))}


def test_replay_of_1000_against_30_percent_failures_delivers_each_exactly_once(
        cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "big.jsonl"
    ids = write_capture(capture, 1000)
    with InngestServer(fault_rate=0.3) as inngest:
        result = cli("replay", str(capture), "-t", PAYMENT, "--url", f"{inngest.url}/e/k",
                     "--retries", "12", "--concurrency", "16", "--no-dodo-check", code=0)
        seen = inngest.count_by_event_id()
    expected = {f"payment.succeeded:pay_{n:06d}:" + json.loads(body_for(n))["timestamp"]
                for n in range(1000)}
    assert set(seen) == expected
    assert set(seen.values()) == {1}
    assert counts(result.stdout)["accepted"] == 1000
    assert len(ids) == 1000
    header, *state = [json.loads(line) for line in (tmp_path / ".dodo-inngest-replay-state.jsonl")
                      .open()]
    assert header["kind"] == "dodo-inngest replay state"
    assert len(state) == 1000 and {s["outcome"] for s in state} == {"accepted"}


def test_second_run_sends_nothing_and_force_resends(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 5)
    with InngestServer() as inngest:
        target = f"{inngest.url}/e/k"
        first = cli("replay", str(capture), "-t", PAYMENT, "--url", target, code=0)
        second = cli("replay", str(capture), "-t", PAYMENT, "--url", target, code=0)
        assert len(inngest.received) == 5
        forced = cli("replay", str(capture), "-t", PAYMENT, "--url", target, "--force", code=0)
        assert len(inngest.received) == 10
    assert counts(first.stdout)["accepted"] == 5
    assert (counts(second.stdout)["accepted"], counts(second.stdout)["skipped"]) == (0, 5)
    assert counts(forced.stdout)["accepted"] == 5


def test_interrupted_replay_and_rerun_deliver_each_exactly_once(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 300)
    command = [sys.executable, "-m", "dodo_inngest_cli", "replay", str(capture), "-t", PAYMENT,
               "--rate", "150", "--no-dodo-check"]
    env = {**os.environ, "NO_COLOR": "1"}
    with InngestServer() as inngest:
        command += ["--url", f"{inngest.url}/e/k"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd=ROOT, env=env)
        time.sleep(1.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        assert "(interrupted)" in out
        first = len(inngest.received)
        assert 0 < first < 300
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        seen = inngest.count_by_event_id()
    assert len(seen) == 300
    assert set(seen.values()) == {1}


def test_events_without_id_get_a_deterministic_one(cli: RunCli, tmp_path: Path) -> None:
    transform = tmp_path / "noid.js"
    transform.write_text("function handler(w) { w.payload = {name: 'dodo/' + w.eventType, "
                         "data: {}, ts: new Date(w.payload.timestamp).getTime()}; return w; }")
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 2)
    with InngestServer() as inngest:
        result = cli("replay", str(capture), "-t", str(transform), "--url",
                     f"{inngest.url}/e/k", "--no-dodo-check", code=0)
        assert sorted(inngest.count_by_event_id()) == ["dodo-msg_000000", "dodo-msg_000001"]
        assert "2 event(s) had no id and got one derived from the delivery" in result.stdout
        cli("replay", str(capture), "-t", str(transform), "--url", f"{inngest.url}/e/k",
            "--no-assign-id", "--force", "--no-dodo-check", code=0)
        assert inngest.count_by_event_id()["None"] == 2


def test_filters(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 10)
    with InngestServer() as inngest:
        target = ["--url", f"{inngest.url}/e/k", "--no-dodo-check", "--dry-run"]
        since = cli("replay", str(capture), "-t", PAYMENT, *target, "--since", "2026-03-05",
                    "--until", "2026-03-08", code=0)
        assert counts(since.stdout)["would-send"] == 3
        assert counts(since.stdout)["skipped"] == 0
        by_id = cli("replay", str(capture), "-t", PAYMENT, *target, "--id", "msg_000002",
                    code=0)
        assert counts(by_id.stdout)["would-send"] == 1
        by_event = cli("replay", str(capture), "-t", PAYMENT, *target, "--event", "refund.*",
                       code=2)
        assert by_event.stderr == (
            "error: no delivery of the 10 read matches --event refund.*\n"
            "hint: event types look like payment.succeeded; try 'payment.*'\n")
        assert inngest.requests == []


def test_tampered_body_is_invalid_for_verify_and_skipped_by_replay(cli: RunCli,
                                                                   tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    lines = capture.read_text().splitlines()
    record = json.loads(lines[1])
    record["body"] = record["body"].replace("4999", "1")
    lines[1] = json.dumps(record)
    capture.write_text("\n".join(lines) + "\n")
    verified = cli("verify", str(capture), "--secret", SECRET, code=1)
    assert verified.stdout.splitlines()[-1] == "2 valid, 1 invalid, 0 unsigned, 0 unreadable"
    document = json.loads(cli("verify", str(capture), "--secret", SECRET, "--format", "json",
                              code=1).stdout)
    assert [(d["delivery"], d["result"], d["reason"]) for d in document["deliveries"]] == [
        ("msg_000000", "valid", ""),
        ("msg_000001", "invalid", "no signature matches the body (tampered, or another secret)"),
        ("msg_000002", "valid", "")]
    with InngestServer() as inngest:
        result = cli("replay", str(capture), "-t", PAYMENT, "--url", f"{inngest.url}/e/k",
                     "--secret", SECRET, code=0)
        assert len(inngest.received) == 2
    assert ("invalid: msg_000001: signature invalid: no signature matches the body (tampered, "
            "or another secret)") in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_verify_tolerance_and_unsigned(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 1)
    with capture.open("a") as handle:
        handle.write(Delivery("plain", "t", {}, body_for(5), None, "").to_line() + "\n")
    document = json.loads(cli("verify", str(capture), "--secret", SECRET, "--format", "json",
                              code=0).stdout)
    assert [(d["delivery"], d["result"]) for d in document["deliveries"]] == [
        ("msg_000000", "valid"), ("plain", "unsigned")]
    time.sleep(1.1)
    strict = json.loads(cli("verify", str(capture), "--secret", SECRET, "--tolerance", "0",
                            "--format", "json", code=1).stdout)
    assert strict["deliveries"][0]["result"] == "invalid"
    assert strict["deliveries"][0]["reason"].endswith("from now; the tolerance is 0 s")


def test_replay_accepts_plain_payload_files(cli: RunCli, tmp_path: Path) -> None:
    with InngestServer() as inngest:
        cli("replay", str(WEBHOOKS / "payment.succeeded.json"),
            str(WEBHOOKS / "refund.succeeded.json"), "-t", PAYMENT, "--url",
            f"{inngest.url}/e/k", "--state", str(tmp_path / "s.jsonl"), code=0)
        assert [e["name"] for e in inngest.events()] == ["dodo/payment.succeeded"]


def test_batched_replay_resends_what_inngest_did_not_process(cli: RunCli,
                                                             tmp_path: Path) -> None:
    transform = tmp_path / "t.js"
    transform.write_text(
        "function handler(w) {\n  const p = w.payload.data;\n"
        "  const ms = new Date(w.payload.timestamp).getTime();\n"
        "  w.payload = {name: 'dodo/' + w.eventType, id: p.payment_id, data: {},\n"
        "    ts: p.payment_id === 'pay_000002' ? Math.floor(ms / 1000) : ms};\n"
        "  return w;\n}\n")
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 5)
    with InngestServer() as inngest:
        result = cli("replay", str(capture), "-t", str(transform), "--url",
                     f"{inngest.url}/e/k", "--batch", "5", "--ignore", "ts-in-seconds",
                     "--no-dodo-check", code=1)
        assert [len(json.loads(r["body"])) for r in inngest.requests] == [5, 2]
        assert sorted(inngest.count_by_event_id().items()) == [
            (f"pay_{n:06d}", 1) for n in (0, 1, 3, 4)]
    assert counts(result.stdout)["accepted"] == 4
    assert counts(result.stdout)["rejected"] == 1
    assert "rejected: msg_000002: timestamp is before Jan 1, 1980" in result.stderr


def test_a_delivery_captured_twice_is_sent_once(cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 3)
    with capture.open("a") as handle:  # Dodo retried msg_000001, and both were captured
        handle.write(capture.read_text().splitlines()[1] + "\n")
    with InngestServer() as inngest:
        result = cli("replay", str(capture), "-t", PAYMENT, "--url", f"{inngest.url}/e/k",
                     "--no-dodo-check", code=0)
        assert sorted(inngest.count_by_event_id().values()) == [1, 1, 1]
    assert (counts(result.stdout)["accepted"], counts(result.stdout)["duplicate"]) == (3, 1)


def test_replaying_a_folder_again_skips_its_own_state_file(cli: RunCli, tmp_path: Path) -> None:
    folder = tmp_path / "deliveries"
    folder.mkdir()
    write_capture(folder / "c.jsonl", 2)
    with InngestServer() as inngest:
        target = ["-t", PAYMENT, "--url", f"{inngest.url}/e/k", "--no-dodo-check"]
        cli("replay", str(folder), *target, code=0)
        again = cli("replay", str(folder), *target, code=0)
        assert len(inngest.received) == 2
    assert (folder / ".dodo-inngest-replay-state.jsonl").exists()
    assert counts(again.stdout) == {"accepted": 0, "rejected": 0, "failed": 0, "error": 0,
                                    "cancelled": 0, "skipped": 2, "duplicate": 0, "invalid": 0}
    assert again.stderr == ""


def test_a_body_that_is_not_utf8_is_refused_not_altered(
        listener: tuple[Listener, list[Received]], tmp_path: Path) -> None:
    server, received = listener
    answer = httpx.post(server.address + "/dodo", content=b'{"type": "caf\xe9"}')
    assert (answer.status_code, answer.json()) == (400, {"error": "the body is not UTF-8 "
                                                                  "(byte 13)"})
    assert received[-1].note == "body is not UTF-8 (byte 13)"
    assert list(read_deliveries([tmp_path / "capture.jsonl"])) == []


def test_replay_json_lists_each_delivery_and_an_unreadable_body_is_invalid(
        cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 2)
    with capture.open("a") as handle:
        handle.write(Delivery("msg_bad", "t", {}, '{"type": "payment.succ', None, "").to_line()
                     + "\n")
    with InngestServer() as inngest:
        document = json.loads(cli("replay", str(capture), "-t", PAYMENT, "--url",
                                  f"{inngest.url}/e/k", "--no-dodo-check", "--format", "json",
                                  code=0).stdout)
        ids = [r.id for r in inngest.received]
    assert [(d["delivery"], d["outcome"], d["ids"]) for d in document["deliveries"]] == [
        ("msg_000000", "accepted", ids[:1]), ("msg_000001", "accepted", ids[1:]),
        ("msg_bad", "invalid", [])]
    assert document["deliveries"][2]["reason"] == (
        f"{capture}:3: the body is not valid JSON (line 1, column 10): Unterminated string "
        "starting at")
    assert document["summary"]["invalid"] == 1 and document["ok"] is True


def _variants(good: str) -> dict[str, str]:
    value = good.split(",", 1)[1]
    return {"valid": good, "odd-character": f"v1,{value[:4]}!{value[4:]}",
            "a-bare-version-first": f"v1 {good}", "another-version": f"v2,{value}",
            "two-one-good": f"v1,{base64.b64encode(b'x' * 32).decode()} {good}",
            "wrong": f"v1,{base64.b64encode(b'x' * 32).decode()}", "not-base64": "v1,@@@"}


def test_the_listener_and_verify_read_a_signature_alike() -> None:
    # One delivery, its signature header spelled several ways: what `listen` accepts, `verify`
    # (and `replay`) call valid, and what it refuses they call invalid.
    body, msg_id = body_for(7), "msg_alike"
    headers = signed_headers(body, msg_id)
    listener = Listener("127.0.0.1", 0, ListenerConfig(signer=load_secret(SECRET)),
                        lambda received: None)
    try:
        verdicts = {}
        for name, signature in _variants(headers["webhook-signature"]).items():
            spelled = {**headers, "webhook-signature": signature}
            status, _ = listener.handle(body.encode(), spelled)
            delivery = Delivery(msg_id, "2026-03-14T00:00:00Z", spelled, body, None, "x")
            verdicts[name] = (status, check_signature(load_secret(SECRET), delivery,
                                                      tolerance_s=None)[0])
    finally:
        listener.stop()
    assert verdicts == {"valid": (200, "valid"), "odd-character": (200, "valid"),
                        "a-bare-version-first": (401, "invalid"),
                        "another-version": (401, "invalid"), "two-one-good": (200, "valid"),
                        "wrong": (401, "invalid"), "not-base64": (401, "invalid")}


def test_a_dry_run_prints_each_request_whole_whatever_the_concurrency(
        cli: RunCli, tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    write_capture(capture, 300)
    out = cli("replay", str(capture), "-t", str(TRANSFORMS / "payment.js"), "--dry-run",
              "--show-output", "--batch", "1", "--concurrency", "8", "--no-dodo-check",
              code=0).stdout
    blocks = out.split("\n\nPOST ")
    requests = [*blocks[:-1], blocks[-1].split("\n\nreplay → ")[0]]  # the summary follows
    assert len(requests) == 300
    seen = []
    for block in requests:
        head, _, body = block.partition("\n\n")
        assert [line.split(": ")[0] for line in head.splitlines()[1:]] == [
            "user-agent", "content-type", "x-inngest-event-id-seed"]
        seen.append(json.loads(body)["data"]["payment_id"])
    assert sorted(seen) == [f"pay_{n:06d}" for n in range(300)]
