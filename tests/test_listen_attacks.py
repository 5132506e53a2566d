"""`listen` against hostile and broken clients: raw sockets on loopback, the real server.

Stalled and idle connections, bodies cut short, oversized requests, a disk that refuses the
write, a forward target that hangs, and request text that tries to reach the terminal.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from test_capture import SECRET, body_for, signed_headers

from dodo_inngest_cli.capture import CaptureWriter, Delivery, load_secret, read_deliveries
from dodo_inngest_cli.listener import (
    ForwardResult,
    Listener,
    ListenerConfig,
    Received,
)
from dodo_inngest_cli.outcomes import Outcome

from conftest import ROOT

Serve = Callable[..., tuple[Listener, list[Received]]]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start listeners on port 0 with a capture in tmp_path; stop them at the end."""
    started: list[Listener] = []

    def start(**options: object) -> tuple[Listener, list[Received]]:
        received: list[Received] = []
        lock = threading.Lock()

        def note(item: Received) -> None:
            with lock:
                received.append(item)

        options.setdefault("capture", CaptureWriter(tmp_path / "capture.jsonl"))
        listener = Listener("127.0.0.1", 0, ListenerConfig(**options), note)  # type: ignore[arg-type]
        listener.start()
        started.append(listener)
        return listener, received

    yield start
    for listener in started:
        listener.stop()


def port_of(listener: Listener) -> int:
    return int(listener.address.rsplit(":", 1)[1])


def connect(listener: Listener) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(listener)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (headers and a body of its content-length) from a kept-alive
    connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def post_head(length: int, extra: str = "") -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def captured(tmp_path: Path) -> list[str]:
    return [d.id for d in read_deliveries([tmp_path / "capture.jsonl"])
            if isinstance(d, Delivery)]


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- connections that stall or idle (issue item 15) -----------------------------------------


def test_stop_returns_at_once_with_an_idle_keep_alive_and_a_half_sent_request(
        serve: Serve) -> None:
    listener, _ = serve()
    idle = connect(listener)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(idle).startswith(b"HTTP/1.1 200 OK\r\n")  # kept alive, then silent
    half = connect(listener)
    half.sendall(post_head(100) + b'{"type": ')
    time.sleep(0.2)
    started = time.monotonic()
    assert listener.stop() == 0
    assert time.monotonic() - started < 1.0
    assert idle.recv(4096) == b""  # both closed by the server
    assert half.recv(4096) == b""


def test_a_delivery_answered_while_stopping_gets_its_200_and_the_connection_closes(
        serve: Serve, tmp_path: Path) -> None:
    class SlowDisk(CaptureWriter):
        def append(self, delivery: Delivery) -> None:
            time.sleep(1.0)
            super().append(delivery)

    listener, received = serve(capture=SlowDisk(tmp_path / "capture.jsonl"))
    body = body_for(1).encode()
    sock = connect(listener)
    sock.sendall(post_head(len(body), "webhook-id: msg_slow\r\n") + body)
    time.sleep(0.3)  # in the capture's write when stop() begins
    listener.stop()
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer
    assert [(r.status, r.delivery) for r in received] == [(200, "msg_slow")]
    assert captured(tmp_path) == ["msg_slow"]


def test_a_client_that_sends_headers_then_stalls_is_dropped_after_the_idle_timeout(
        serve: Serve, tmp_path: Path) -> None:
    listener, received = serve(idle_timeout_s=1.0)
    stalled = connect(listener)
    stalled.sendall(post_head(100))
    started = time.monotonic()
    assert stalled.recv(4096) == b""
    # the timeout, checked once a second by the I/O loop (which wakes at least every second)
    assert 1.0 <= time.monotonic() - started < 3.5
    assert received == []
    assert captured(tmp_path) == []


def test_a_client_trickling_a_byte_at_a_time_is_dropped_at_the_request_deadline(
        serve: Serve, tmp_path: Path) -> None:
    # Never idle for the idle timeout, so only the deadline from the first byte can end it.
    listener, received = serve(idle_timeout_s=1.0, request_deadline_s=2.0)
    body = body_for(1).encode()
    sock = connect(listener)
    sock.settimeout(0.3)
    started = time.monotonic()
    sent = b""
    for byte in (post_head(len(body)) + body)[:-1]:
        try:
            sock.sendall(bytes([byte]))
            sent += bytes([byte])
            if sock.recv(4096) == b"":
                break
        except TimeoutError:
            continue  # nothing from the server yet: the next byte
        except OSError:
            break  # reset by the server
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 4.5
    assert len(sent) < len(body)  # it did not get far
    assert received == []
    assert captured(tmp_path) == []
    # an honest client is served meanwhile and after
    assert httpx.post(listener.address, content=body, timeout=5).status_code == 200


def test_slow_connections_cost_no_thread_and_a_bounded_number_of_sockets(
        serve: Serve) -> None:
    listener, _ = serve(connection_limit=50, threads=4)
    threads = threading.active_count()
    slow = []
    for _ in range(120):  # more than the limit: the rest wait in the system's backlog
        sock = connect(listener)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    time.sleep(0.5)
    assert threading.active_count() == threads
    for sock in slow:
        sock.close()
    body = body_for(1)
    wait_for(lambda: httpx.post(listener.address, content=body, timeout=5).status_code == 200)
    assert threading.active_count() == threads


# -- bodies cut short or too large (items 16, 413) ------------------------------------------


def test_a_body_cut_short_is_answered_400_and_not_captured(serve: Serve,
                                                           tmp_path: Path) -> None:
    listener, received = serve()
    sock = connect(listener)
    sock.sendall(post_head(2189) + b"x" * 700)
    sock.shutdown(socket.SHUT_WR)  # the client says it has sent everything
    answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 400 Bad Request"
    assert json.loads(body) == {"error": "body cut short: 700 of 2,189 bytes"}
    assert [(r.status, r.delivery, r.event_type, r.length, r.note) for r in received] == [
        (400, "", "", 2189, "body cut short: 700 of 2,189 bytes")]
    assert captured(tmp_path) == []


def test_a_chunked_body_cut_short_says_so(serve: Serve, tmp_path: Path) -> None:
    listener, received = serve()
    sock = connect(listener)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"10\r\n0123456")
    sock.shutdown(socket.SHUT_WR)
    head, _, body = read_all(sock).partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 400 Bad Request"
    assert [(r.status, r.note) for r in received] == [
        (400, json.loads(body)["error"])]
    assert received[0].note.startswith("chunked body cut short after ")
    assert captured(tmp_path) == []


def test_a_whole_request_then_a_half_close_is_still_answered(serve: Serve,
                                                             tmp_path: Path) -> None:
    listener, _ = serve()
    body = body_for(2).encode()
    sock = connect(listener)
    sock.sendall(post_head(len(body), "webhook-id: msg_half\r\n") + body)
    sock.shutdown(socket.SHUT_WR)
    head, _, answer = read_all(sock).partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert json.loads(answer) == {"received": "msg_half"}
    assert captured(tmp_path) == ["msg_half"]


def test_a_body_over_the_limit_is_refused_before_it_is_sent(serve: Serve) -> None:
    listener, received = serve(body_limit=1000)
    sock = connect(listener)
    sock.sendall(post_head(10_000_000))  # no body: the answer must not wait for one
    head, _, body = read_all(sock).partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(body) == {"error": "body of 10,000,000 bytes is over the 1,000-byte "
                                         "limit"}
    assert [(r.status, r.length) for r in received] == [(413, 10_000_000)]


# -- the disk refuses (item 18) --------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_delivery_answered_507_is_not_in_the_capture(tmp_path: Path) -> None:
    import resource

    capture = tmp_path / "c.jsonl"

    def small_disk() -> None:  # in the child: writes past 6,000 bytes fail (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, resource.RLIM_INFINITY))

    process = subprocess.Popen(
        [sys.executable, "-m", "dodo_inngest_cli", "listen", "--port", "0", "--capture",
         str(capture)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"}, preexec_fn=small_disk)
    assert process.stdout is not None
    address = process.stdout.readline().split()[-1]
    statuses = []
    with httpx.Client(timeout=10) as client:
        for n in range(10):
            statuses.append(client.post(address, content=body_for(n),
                                        headers={"webhook-id": f"msg_{n}"}).status_code)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)
    accepted = statuses.index(507)
    assert statuses == [200] * accepted + [507] * (10 - accepted)
    assert 0 < accepted < 10
    assert list(d.id for d in read_deliveries([capture])) == [f"msg_{n}"  # type: ignore[union-attr]
                                                             for n in range(accepted)]
    assert capture.read_bytes().endswith(b"\n")


def test_a_reader_that_goes_away_costs_no_answer(tmp_path: Path) -> None:
    # `listen --capture c.jsonl | head -2`: the view's lines go nowhere; every delivery is
    # still answered and captured, and Ctrl-C still ends the run with 0.
    capture = tmp_path / "c.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "dodo_inngest_cli", "listen", "--port", "0", "--capture",
         str(capture)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"}, bufsize=0)
    assert process.stdout is not None and process.stderr is not None
    address = process.stdout.readline().decode().split()[-1]
    process.stdout.close()
    with httpx.Client(timeout=10) as client:
        statuses = [client.post(address, content=body_for(n),
                                headers={"webhook-id": f"msg_{n}"}).status_code
                    for n in range(5)]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert process.stderr.read() == b""
    assert statuses == [200] * 5
    assert [d.id for d in read_deliveries([capture])] == [  # type: ignore[union-attr]
        f"msg_{n}" for n in range(5)]


def listen_cli(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`listen` in a process of its own, and its address once it printed it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dodo_inngest_cli", "listen", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"}, bufsize=0)
    assert process.stdout is not None
    return process, process.stdout.readline().decode().split()[-1]


def test_forward_without_a_capture_answers_after_the_forward(tmp_path: Path) -> None:
    # Nothing to replay from: a forward that fails is answered 502, so Dodo sends it again.
    process, address = listen_cli("--forward", "-t", str(ROOT / "samples" / "transforms" /
                                                         "payment.js"),
                                  "--url", "http://127.0.0.1:9/e/somekey", "--retries", "0")
    status = httpx.post(address, content=body_for(1), headers={"webhook-id": "msg_1"},
                        timeout=10).status_code
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=15)
    lines = out.decode().splitlines()
    assert status == 502
    assert lines[0].endswith("(no capture to replay from: each answer waits for its "
                             "forward). Ctrl-C stops.")
    assert lines[-1] == "1 received, 0 refused, 0 forwarded, 0 cancelled, 1 forward failed"


def test_a_second_ctrl_c_ends_the_drain_at_once(tmp_path: Path) -> None:
    # An Inngest that takes the request and never answers: the drain would wait its 10 s.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        process, address = listen_cli(
            "--capture", str(tmp_path / "c.jsonl"), "--forward", "-t",
            str(ROOT / "samples" / "transforms" / "payment.js"), "--url",
            f"http://127.0.0.1:{silent.getsockname()[1]}/e/somekey", "--timeout", "60")
        assert httpx.post(address, content=body_for(1), headers={"webhook-id": "msg_1"},
                          timeout=10).status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        stopping = b""
        while b"Ctrl-C again" not in stopping:
            stopping += process.stdout.read(1)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=15)
        assert time.monotonic() - started < 3.0
    finally:
        silent.close()
    lines = (stopping + rest).decode().splitlines()
    assert "stopping: up to 10 s for 1 forward still to go; Ctrl-C again to stop at once" in lines
    assert process.returncode == 0, err
    assert lines[-1] == "1 received, 0 refused, 0 forwarded, 0 cancelled, 1 forward failed"
    assert "not forwarded: the listener stopped first (a capture keeps it for `replay`)" \
        in lines[-2]


# -- forwarding: the answer does not wait (item 17) -----------------------------------------


class Gate:
    """A forward function that waits until opened, then accepts; counts its calls."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls: list[str] = []

    def __call__(self, delivery: Delivery) -> ForwardResult:
        self.calls.append(delivery.id)
        self.open.wait(10)
        return ForwardResult(Outcome.ACCEPTED, [f"evt_{delivery.id}"])


def post(listener: Listener, n: int) -> httpx.Response:
    body = body_for(n)
    return httpx.post(listener.address, content=body, headers={"webhook-id": f"msg_{n}"},
                      timeout=10)


def test_a_delivery_is_acknowledged_once_captured_and_forwarded_after(
        serve: Serve, tmp_path: Path) -> None:
    gate = Gate()
    listener, received = serve(forward=gate)
    started = time.monotonic()
    answer = post(listener, 1)
    assert time.monotonic() - started < 5.0  # well before the blocked forward's 10 s
    assert (answer.status_code, answer.json()) == (200, {"received": "msg_1",
                                                         "forwarded": "queued"})
    assert captured(tmp_path) == ["msg_1"]
    gate.open.set()
    wait_for(lambda: len(received) == 2)
    first, follow_up = received
    assert (first.status, first.delivery, first.forwarded, first.note, first.follow_up) == (
        200, "msg_1", None, "forward queued", False)
    assert (follow_up.status, follow_up.delivery, follow_up.event_type, follow_up.follow_up,
            follow_up.forwarded) == (200, "msg_1", "payment.succeeded", True,
                                     ForwardResult(Outcome.ACCEPTED, ["evt_msg_1"]))


def test_a_full_forward_queue_answers_503_and_captures_nothing(serve: Serve,
                                                               tmp_path: Path) -> None:
    gate = Gate()
    listener, received = serve(forward=gate, forward_queue=2)
    assert [post(listener, n).status_code for n in range(3)] == [200, 200, 503]
    assert captured(tmp_path) == ["msg_0", "msg_1"]
    assert (received[2].status, received[2].delivery, received[2].note) == (
        503, "", "not captured: 2 deliveries wait to be forwarded; Dodo retries later")
    gate.open.set()
    wait_for(lambda: len(gate.calls) == 2 and post(listener, 3).status_code == 200)


def test_ack_after_forward_answers_502_at_its_deadline_and_reports_the_outcome_later(
        serve: Serve, tmp_path: Path) -> None:
    gate = Gate()
    listener, received = serve(forward=gate, ack_after_forward=True, ack_deadline_s=0.5)
    started = time.monotonic()
    answer = post(listener, 1)
    assert 0.5 <= time.monotonic() - started < 5.0  # the deadline, not the forward's 10 s
    assert (answer.status_code, answer.json()) == (502, {"received": "msg_1",
                                                         "forwarded": "pending"})
    gate.open.set()
    wait_for(lambda: len(received) == 2)
    assert [(r.status, r.delivery, r.forwarded, r.note, r.follow_up) for r in received] == [
        (502, "msg_1", None, "not forwarded within 0.5 s; still trying", False),
        (502, "msg_1", ForwardResult(Outcome.ACCEPTED, ["evt_msg_1"]), "", True)]
    gate.calls.clear()
    answer = post(listener, 2)  # the gate is open: the answer waits for the forward
    assert (answer.status_code, answer.json()) == (200, {
        "received": "msg_2", "forwarded": "accepted", "ids": ["evt_msg_2"]})
    assert received[-1].forwarded == ForwardResult(Outcome.ACCEPTED, ["evt_msg_2"])


def test_stop_reports_every_delivery_it_could_not_forward(serve: Serve) -> None:
    gate = Gate()
    listener, received = serve(forward=gate, drain_s=0.5)
    assert [post(listener, n).status_code for n in range(3)] == [200, 200, 200]
    started = time.monotonic()
    assert listener.stop() == 3
    assert time.monotonic() - started < 5.0  # drain_s, not the forward's 10 s
    stopped = ForwardResult(Outcome.FAILED, reason="not forwarded: the listener stopped first "
                                                   "(a capture keeps it for `replay`)")
    assert sorted((r.delivery, r.forwarded) for r in received if r.follow_up) == [
        (f"msg_{n}", stopped) for n in range(3)]
    gate.open.set()


def test_a_forward_that_raises_is_a_failed_forward_and_the_worker_goes_on(
        serve: Serve) -> None:
    def forward(delivery: Delivery) -> ForwardResult:
        if delivery.id == "msg_1":
            raise KeyError(delivery.id)
        return ForwardResult(Outcome.ACCEPTED, ["evt"])

    listener, received = serve(forward=forward)
    assert [post(listener, n).status_code for n in (1, 2)] == [200, 200]
    wait_for(lambda: len([r for r in received if r.follow_up]) == 2)
    assert [(r.delivery, r.forwarded) for r in received if r.follow_up] == [
        ("msg_1", ForwardResult(Outcome.FAILED, reason="internal error: KeyError")),
        ("msg_2", ForwardResult(Outcome.ACCEPTED, ["evt"]))]


# -- request text never reaches the terminal (item 14) --------------------------------------

EVIL_ID = "[/]"
EVIL_TYPE = "\x1b]0;pwned\x07\x1b[2Jpayment.succeeded"


def evil_requests(address: str, *, signed: bool) -> list[bytes]:
    """A delivery whose id breaks Rich markup and whose type sets the window title and
    clears the screen; a header with a raw ESC; the status line of each answer."""
    document = json.loads(body_for(1))
    document["type"] = EVIL_TYPE
    body = json.dumps(document)
    headers = signed_headers(body, EVIL_ID) if signed else {"webhook-id": EVIL_ID}
    if signed:
        headers["webhook-signature"] = "v1,AAAA"
    host, port = address.removeprefix("http://").split(":")
    lines = []
    for extra in ("".join(f"{k}: {v}\r\n" for k, v in headers.items()),
                  "webhook-id: \x1b[2J\r\n"):
        with socket.create_connection((host, int(port.split("/")[0])), timeout=10) as sock:
            sock.sendall(post_head(len(body.encode()), extra + "Connection: close\r\n")
                         + body.encode())
            lines.append(read_all(sock).split(b"\r\n")[0])
    return lines


def run_listen(*args: str, tty: bool) -> tuple[list[bytes], str, int]:
    """Run `listen`, send the evil requests, stop it with Ctrl-C: the answers' status
    lines, everything it printed, its exit code."""
    command = [sys.executable, "-m", "dodo_inngest_cli", "listen", "--port", "0", *args]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    if not tty:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   cwd=ROOT, env=env, bufsize=0)  # readline keeps nothing back
        assert process.stdout is not None
        first = process.stdout.readline()
        statuses = evil_requests(first.decode().split()[-1], signed="--secret" in args)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)
        return statuses, (first + rest).decode("utf-8", "replace"), process.returncode
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=follower, stderr=follower, cwd=ROOT, env=env)
    os.close(follower)
    output = b""
    while b"Ctrl-C stops." not in output:
        output += os.read(leader, 65536)
    address = output.decode().split("listening on ", 1)[1].split()[0]
    statuses = evil_requests(address, signed="--secret" in args)
    time.sleep(0.6)  # the live view refreshes four times a second
    process.send_signal(signal.SIGINT)
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return statuses, output.decode("utf-8", "replace"), process.wait(timeout=10)


def test_unauthenticated_requests_show_nothing_of_theirs_when_piped() -> None:
    statuses, output, code = run_listen("--secret", SECRET, tty=False)
    assert statuses == [b"HTTP/1.1 401 Unauthorized", b"HTTP/1.0 400 Bad Request"]
    assert (code, "\x1b" in output, "[/]" in output) == (0, False, False)
    assert output.splitlines()[-1] == \
        "0 received, 2 refused, 0 forwarded, 0 cancelled, 0 forward failed"


@pytest.mark.skipif(sys.platform == "win32", reason="pty is POSIX")
def test_unauthenticated_requests_show_nothing_of_theirs_in_the_live_table() -> None:
    statuses, output, code = run_listen("--secret", SECRET, tty=True)
    assert statuses == [b"HTTP/1.1 401 Unauthorized", b"HTTP/1.0 400 Bad Request"]
    assert (code, "\x1b]0;" in output, "\x1b[2J" in output, "Error" in output) == (
        0, False, False, False)


def test_accepted_request_text_is_printed_escaped_when_piped() -> None:
    statuses, output, code = run_listen(tty=False)
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.0 400 Bad Request"]
    assert (code, "\x1b" in output) == (0, False)


@pytest.mark.skipif(sys.platform == "win32", reason="pty is POSIX")
def test_accepted_request_text_does_not_break_the_live_table() -> None:
    statuses, output, code = run_listen(tty=True)
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.0 400 Bad Request"]
    assert (code, "\x1b]0;" in output, "\x1b[2J" in output, "Error" in output) == (
        0, False, False, False)


def test_a_signature_problem_is_told_in_the_library_words_only(serve: Serve) -> None:
    listener, received = serve(signer=load_secret(SECRET))
    body = body_for(1)
    headers = {**signed_headers(body, "msg_1"), "webhook-signature": "v1"}  # no comma
    answer = httpx.post(listener.address, content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (
        401, {"error": "invalid signature: malformed signature header"})
    latin1 = {name.encode(): value.encode() for name, value in headers.items()}
    answer = httpx.post(listener.address, content=body,
                        headers={**latin1, b"webhook-timestamp": b"\xe9t\xe9"})
    assert answer.json() == {"error": "invalid signature: Invalid Signature Headers"}
    assert [(r.status, r.delivery, r.event_type, r.verified, r.note) for r in received] == [
        (401, "", "", False, "signature: malformed signature header"),
        (401, "", "", False, "signature: Invalid Signature Headers")]
