"""A local receiver for real Dodo deliveries: verify, capture durably, optionally forward.

The HTTP server is waitress (pure Python, any OS). It reads every request on one I/O thread
and hands a request to its fixed pool of worker threads only once the whole body is in, so a
slow or stalled client costs a socket, never a thread; a connection silent for
`idle_timeout_s` is closed (an idle keep-alive as well as a request that stopped half-way),
and so is one whose request is not all in `request_deadline_s` after its first byte (a client
trickling a byte at a time never looks idle);
at most `connection_limit` connections are open; headers and bodies over their limits are
refused before any of the body is read. uvicorn was the other candidate: it has no deadline
for receiving a request (a client that sends headers, then nothing, holds its connection for
ever) and an asyncio server would push each fsync to a thread anyway.

A request's life: verify the signature (401), append to the capture and fsync (507 if the
disk refuses), then answer 2xx. Forwarding happens after the answer, on one worker thread fed
by a bounded queue; with `ack_after_forward` the answer waits for the forward up to
`ack_deadline_s`, shorter than the 15 s Dodo (Svix) waits for an answer. Every POST's fate
goes to `on_received`; a record for a request that was not accepted carries no text from the
request (no delivery id, no event type): only its status, length and the listener's note.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import queue
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol, cast

from standardwebhooks.webhooks import WebhookVerificationError
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import BadRequest

from .cancel import NEVER, Cancel
from .capture import CaptureWriter, Delivery, now_iso, stored_headers
from .errors import InputError
from .models import event_type_of
from .outcomes import Outcome

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_BODY_LIMIT = 1024 * 1024
DODO_TIMEOUT_S = 15.0
"""How long Dodo (Svix) waits for an answer before it counts a delivery as failed."""

# on_received reports every request; waitress's own warnings ("task queue depth is 3") would
# reach the terminal through logging's last resort.
logging.getLogger("waitress").addHandler(logging.NullHandler())


class Forwarded(Protocol):
    """What became of one delivery sent on to Inngest."""

    @property
    def outcome(self) -> Outcome:
        """The outcome, in the vocabulary of every command."""

    @property
    def ids(self) -> list[str]:
        """Inngest's event ids, when it accepted the events."""

    @property
    def reason(self) -> str:
        """Why it was not accepted, for people."""


@dataclasses.dataclass(frozen=True)
class ForwardResult:
    """A plain Forwarded."""

    outcome: Outcome
    ids: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Received:
    """One request the listener answered, or the later outcome of a delivery's forward.

    `delivery` and `event_type` come from the request, so they are set only for a delivery
    that was accepted (2xx, or 502 with `ack_after_forward`); `note` is the listener's own
    text, never the request's.
    """

    at: str
    delivery: str
    event_type: str
    status: int
    verified: bool | None
    length: int = 0
    """The body's length in bytes (its declared length when it was not read)."""
    forwarded: Forwarded | None = None
    note: str = ""
    follow_up: bool = False
    """The outcome of the background forward of a delivery reported before (same `delivery`);
    `status` is what that delivery was answered."""


@dataclasses.dataclass
class ListenerConfig:
    """How the listener behaves."""

    path: str = "/"
    signer: Any = None
    capture: CaptureWriter | None = None
    forward: Callable[[Delivery], Forwarded] | None = None
    ack_after_forward: bool = False
    body_limit: int = DEFAULT_BODY_LIMIT
    ack_deadline_s: float = 10.0
    """With ack_after_forward: answer 502 if the forward has not finished by then."""
    forward_queue: int = 1000
    """Deliveries waiting for (or in) their forward at most; beyond, 503 and nothing captured."""
    idle_timeout_s: float = DODO_TIMEOUT_S
    """A connection that sends nothing for this long is closed (idle, or a stalled request)."""
    request_deadline_s: float = DODO_TIMEOUT_S
    """A request not all in this long after its first byte is dropped, however it trickles."""
    connection_limit: int = 200
    """Open connections at most; more wait in the system's backlog."""
    threads: int = 8
    """Worker threads: how many requests are verified and captured at once."""
    drain_s: float = 10.0
    """At stop(): how long requests in flight and queued forwards get to finish."""


Answer = tuple[int, dict[str, Any]]


class Listener:
    """Serve until stop(); every POST's fate goes to on_received (a GET is
    answered with the listener's status, and other methods with 405, unreported)."""

    def __init__(self, host: str, port: int, config: ListenerConfig,
                 on_received: Callable[[Received], None]) -> None:
        self.config = config
        self.on_received = on_received
        self._stopping = False
        self._report_error: Exception | None = None
        kept = "a capture keeps it for `replay`" if config.capture is not None else \
            "it was answered 502: Dodo sends it again"
        self._forwarding = _Forwarding(config.forward, config.forward_queue, self._report,
                                       f"not forwarded: the listener stopped first ({kept})") \
            if config.forward is not None else None
        self._stopped = False
        self._socket = _bind(host, port)
        self._server = _Server(self, self._socket, Adjustments(
            threads=config.threads, channel_timeout=config.idle_timeout_s, cleanup_interval=1,
            connection_limit=config.connection_limit, max_request_header_size=64 * 1024,
            max_request_body_size=config.body_limit + 1, asyncore_use_poll=True,
            clear_untrusted_proxy_headers=False, log_socket_errors=False,
            ident="dodo-inngest"))
        self._thread = threading.Thread(target=self._server.run, name="listener-io",
                                        daemon=True)

    @property
    def address(self) -> str:
        """http://host:port of the listener."""
        host, port = self._socket.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        """Start serving in background threads."""
        self._thread.start()
        if self._forwarding is not None:
            self._forwarding.start()

    def stop(self, give_up: Cancel = NEVER) -> int:
        """Stop accepting and close idle connections at once; give requests in flight and
        queued forwards up to drain_s, or until give_up is set; returns how many deliveries
        were not forwarded (each also reported through on_received). A failure of
        on_received, which never changes an answer, is raised here. Stopping again does
        nothing."""
        if self._stopped:
            return 0
        self._stopped = True
        deadline = time.monotonic() + self.config.drain_s
        self._stopping = True  # answers from now on close their connection
        if self._thread.is_alive():
            _until(lambda: not self._in_loop(self._server.close_idle), deadline, give_up)
        not_forwarded = self._forwarding.stop(deadline, give_up) if self._forwarding else 0
        if self._thread.is_alive():
            _until(lambda: not self._in_loop(self._server.close_idle), time.monotonic() + 1)
            self._in_loop(self._server.close_all)
            self._thread.join(timeout=1)
        else:
            self._server.close_all()
        self._server.task_dispatcher.shutdown(timeout=1)
        if self._report_error is not None:
            raise self._report_error
        return not_forwarded

    def pending_forwards(self) -> int:
        """Deliveries captured and not forwarded yet (queued or in progress)."""
        return self._forwarding.pending() if self._forwarding is not None else 0

    def handle(self, body: bytes, headers: dict[str, str]) -> Answer:
        """Verify, capture and forward one delivery; returns the status and JSON answer."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:  # a capture keeps bodies byte-exact, as text
            return self._refuse(400, len(body), f"body is not UTF-8 (byte {exc.start})",
                                f"the body is not UTF-8 (byte {exc.start})")
        kept = stored_headers(headers.items())
        verified: bool | None = None
        if self.config.signer is not None:
            problem = _signature_problem(self.config.signer, text, kept)
            if problem:
                return self._refuse(401, len(body), f"signature: {problem}",
                                    f"invalid signature: {problem}", verified=False)
            verified = True
        delivery = Delivery(kept.get("webhook-id") or f"local_{uuid.uuid4().hex}", now_iso(),
                            kept, text, verified, "listener")
        return self._accept(delivery, len(body))

    def _refused_early(self, status: int, length: int, note: str) -> Answer:
        """Report a request the server refused before reading it all (413, 400, 431)."""
        return self._refuse(status, length, note, note)

    def _accept(self, delivery: Delivery, length: int) -> Answer:
        forwarding = self._forwarding
        if forwarding is not None and not forwarding.reserve():
            return self._refuse(503, length, f"not captured: {self.config.forward_queue:,} "
                                "deliveries wait to be forwarded; Dodo retries later",
                                "busy forwarding; retry later")
        if self.config.capture is not None:
            try:
                self.config.capture.append(delivery)
            except OSError as exc:
                if forwarding is not None:
                    forwarding.release()
                return self._refuse(507, length, f"capture failed: {exc.strerror or exc}",
                                    "the delivery could not be stored; retry later")
        event_type = event_type_of(delivery.body)
        received = Received(delivery.received_at, delivery.id, event_type, 200,
                            delivery.verified, length)
        if forwarding is None:
            self._report(received)
            return 200, {"received": delivery.id}
        job = _Job(delivery, received, waited=self.config.ack_after_forward)
        forwarding.submit(job)
        if not job.waited:
            self._report(dataclasses.replace(received, note="forward queued"))
            return 200, {"received": delivery.id, "forwarded": "queued"}
        return self._acknowledge_after(job)

    def _acknowledge_after(self, job: _Job) -> Answer:
        """Answer once the forward is done: 200, or 502 so that Dodo sends it again."""
        assert self._forwarding is not None
        result = self._forwarding.wait(job, self.config.ack_deadline_s)
        received = job.received
        if result is None:
            self._report(dataclasses.replace(
                received, status=502, note=f"not forwarded within "
                f"{self.config.ack_deadline_s:g} s; still trying"))
            return 502, {"received": received.delivery, "forwarded": "pending"}
        status = 502 if result.outcome.failing else 200
        self._report(dataclasses.replace(received, status=status, forwarded=result))
        return status, {"received": received.delivery, "forwarded": result.outcome.value,
                        "ids": list(result.ids)}

    def _refuse(self, status: int, length: int, note: str, error: str, *,
                verified: bool | None = None) -> Answer:
        self._report(Received(now_iso(), "", "", status, verified, length, note=note))
        return status, {"error": error}

    def _report(self, received: Received) -> None:
        try:
            self.on_received(received)
        except Exception as exc:  # the answer stands; stop() raises it
            self._report_error = self._report_error or exc

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI application waitress runs on its worker threads."""
        status, document = self._route(environ)
        body = json.dumps(document).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        if status == 405:
            headers.append(("allow", "GET, POST"))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def _route(self, environ: WSGIEnvironment) -> Answer:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method in ("GET", "HEAD"):
            if path != self.config.path:
                return 404, {"error": "not found"}
            return 200, {"status": "listening", "path": self.config.path}
        if method != "POST":
            return 405, {"error": "only GET and POST"}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if path != self.config.path:
            return self._refuse(404, length, "POST to another path", f"POST to "
                                f"{self.config.path}")
        if not environ.get("CONTENT_LENGTH"):
            return self._refuse(411, 0, "no content-length", "a content-length is required")
        body = environ["wsgi.input"].read(length)
        try:
            return self.handle(body, _request_headers(environ))
        except Exception as exc:  # keep serving; the live view shows what broke
            return self._refuse(500, length, f"internal error: {type(exc).__name__}",
                                "internal error")

    def _in_loop(self, step: Callable[[], int]) -> int:
        """Run step on the I/O thread (the only one that touches connections); its result."""
        done = threading.Event()
        result = [0]

        def run() -> None:
            result[0] = step()
            done.set()

        self._server.trigger_thunk(run)
        done.wait(timeout=5)
        return result[0]


# -- forwarding ----------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Job:
    """A captured delivery on its way to the forward function."""

    delivery: Delivery
    received: Received
    waited: bool
    """A request waits for the outcome (ack_after_forward)."""
    result: Forwarded | None = None
    abandoned: bool = False
    """The request stopped waiting: the outcome is reported as a follow-up."""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    done: threading.Event = dataclasses.field(default_factory=threading.Event)


class _Forwarding:
    """One worker thread forwards captured deliveries in arrival order; at most `limit`
    wait or are in progress. Each outcome is reported once, as a follow-up record unless a
    request waited for it."""

    def __init__(self, forward: Callable[[Delivery], Forwarded], limit: int,
                 report: Callable[[Received], None], stopped_reason: str) -> None:
        self._forward = forward
        self._report = report
        self._stopped_reason = stopped_reason
        self._slots = threading.BoundedSemaphore(limit)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._pending: set[_Job] = set()
        self._lock = threading.Lock()
        self._cancel = Cancel()
        self._thread = threading.Thread(target=self._run, name="listener-forward", daemon=True)

    def start(self) -> None:
        """Start the worker."""
        self._thread.start()

    def reserve(self) -> bool:
        """Take a place in the queue, if there is one."""
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        """Give back a place taken for a delivery that was not queued after all."""
        self._slots.release()

    def submit(self, job: _Job) -> None:
        """Queue a job, in a place reserved before."""
        with self._lock:
            self._pending.add(job)
        self._queue.put(job)

    def wait(self, job: _Job, seconds: float) -> Forwarded | None:
        """The job's outcome, or None if it is not known within seconds."""
        job.done.wait(seconds)
        with job.lock:
            job.abandoned = job.result is None
            return job.result

    def stop(self, deadline: float, give_up: Cancel) -> int:
        """Let the queue drain until deadline (or give_up), then settle what is left as not
        forwarded; returns how many that was."""
        self._queue.put(None)
        _until(lambda: not self._thread.is_alive(), deadline, give_up)
        self._cancel.set()
        with self._lock:
            left = list(self._pending)
        stopped = ForwardResult(Outcome.FAILED, reason=self._stopped_reason)
        return sum(self._settle(job, stopped) for job in left)

    def pending(self) -> int:
        """Jobs queued or in progress."""
        with self._lock:
            return len(self._pending)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None and not self._cancel.is_set():
            self._settle(job, self._call(job))

    def _call(self, job: _Job) -> Forwarded:
        try:
            return self._forward(job.delivery)
        except KeyboardInterrupt:  # the forward's own stop (a second Ctrl-C): not forwarded
            return ForwardResult(Outcome.FAILED, reason=self._stopped_reason)
        except Exception as exc:  # one broken delivery must not stop the worker
            return ForwardResult(Outcome.FAILED, reason=f"internal error: {type(exc).__name__}")

    def _settle(self, job: _Job, result: Forwarded) -> bool:
        """Record the outcome once; report it unless a waiting request does."""
        with job.lock:
            if job.result is not None:
                return False
            job.result = result
            follow_up = not job.waited or job.abandoned
            job.done.set()
        with self._lock:
            self._pending.discard(job)
        self._slots.release()
        if follow_up:
            status = 502 if job.waited else 200
            self._report(dataclasses.replace(job.received, at=now_iso(), status=status,
                                             forwarded=result, follow_up=True))
        return True


# -- the server: waitress, with a JSON answer and a report for every refusal ---------------


class _CutShort(BadRequest):
    """The client ended its side of the connection before the whole body arrived."""

    def __init__(self, received: int, length: int) -> None:
        super().__init__("the body ended before its content-length")
        self.received = received
        self.length = length


class _Task(WSGITask):
    """waitress's task for a request the application answers; while the listener stops, the
    connection is closed after the answer (waitress refuses a Connection header from the
    application itself: it is hop-by-hop)."""

    def build_response_header(self) -> bytes:
        if cast(_Server, self.channel.server).listener._stopping:
            self.set_close_on_finish()
        return super().build_response_header()


class _ErrorTask(ErrorTask):
    """waitress's answer to a request refused before the application (too large, cut short,
    malformed): reported to the listener, answered in JSON, the connection closed."""

    def execute(self) -> None:
        request = cast(HTTPRequestParser, self.request)
        error = request.error
        assert error is not None
        listener = cast(_Server, self.channel.server).listener
        length = request.content_length or request.body_bytes_received
        if isinstance(error, _CutShort):
            note = f"chunked body cut short after {error.received:,} bytes" if request.chunked \
                else f"body cut short: {error.received:,} of {error.length:,} bytes"
        elif error.code == 413:
            note = f"body of {length:,} bytes is over the {listener.config.body_limit:,}-byte " \
                   "limit"
        else:
            note = error.reason.lower()
        _, document = listener._refused_early(error.code, length, note)
        body = json.dumps(document).encode()
        self.status = f"{error.code} {error.reason}"
        cast(list[tuple[str, str]], self.response_headers).append(
            ("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    """waitress's connection, except at the end of the client's input: a body cut short is
    answered 400 (not dropped in silence), and a request already in is still answered."""

    task_class = _Task
    error_task_class = _ErrorTask
    request_began = 0.0
    """When the first byte of the request still coming in arrived (time.time())."""

    def handle_read(self) -> None:
        try:
            data = cast(socket.socket, self.socket).recv(self.adj.recv_bytes)
        except OSError:
            self.handle_close()
            return
        if data:
            now = time.time()
            if self.request is None:
                self.request_began = now
            self.last_activity = now
            self.received(data)
        elif not self._owes_answer():
            self.handle_close()

    def _owes_answer(self) -> bool:
        """At end of input: queue a 400 for a body cut short; whether an answer is owed."""
        requests = cast(list[HTTPRequestParser], self.requests)
        with cast(threading.Lock, self.requests_lock):  # type: ignore[attr-defined]
            request = self.request
            if request is not None and request.headers_finished and not request.completed:
                request.error = _CutShort(request.body_bytes_received, request.content_length)
                request.completed = True
                self.request = None
                requests.append(request)
                if len(requests) == 1:
                    self.server.add_task(cast(Any, self))
            return bool(requests)


class _Server(TcpWSGIServer):
    """waitress's TCP server on a socket bound here, with our channel, and the steps of
    stop() that run on its I/O thread."""

    channel_class = _Channel

    def __init__(self, listener: Listener, sock: socket.socket, adj: Adjustments) -> None:
        self.listener = listener
        super().__init__(listener.app, _sock=sock, bind_socket=False, adj=adj,
                         sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))

    def maintenance(self, now: float) -> None:
        """waitress closes connections idle too long; close as well those whose request,
        still coming in, began more than request_deadline_s ago."""
        super().maintenance(now)  # type: ignore[arg-type]  # time.time(), typed int
        cutoff = now - self.listener.config.request_deadline_s
        for channel in cast(list[_Channel], self._channels()):
            if channel.request is not None and not channel.requests \
                    and channel.request_began < cutoff:
                channel.will_close = True

    def trigger_thunk(self, thunk: Callable[[], None]) -> None:
        """Run thunk on the I/O thread."""
        cast(Any, self.trigger).pull_trigger(thunk)

    def close_idle(self) -> int:
        """Stop accepting; close every connection that owes no answer (idle, or a request
        not all in); returns how many still owe one."""
        if self.accepting:
            wasyncore.dispatcher.close(self)
        busy = 0
        for channel in self._channels():
            if channel.requests or channel.total_outbufs_len:
                busy += 1
            else:
                channel.handle_close()
        return busy

    def close_all(self) -> int:
        """Close every connection, the listening socket and the trigger: the loop ends."""
        for channel in self._channels():
            channel.handle_close()
        if self.accepting:
            wasyncore.dispatcher.close(self)
        cast(Any, self.trigger).close()
        return 0

    def _channels(self) -> list[HTTPChannel]:
        return list(cast(dict[int, HTTPChannel], self.active_channels).values())


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that no other process can share; InputError if taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM)
    try:
        if sys.platform == "win32":  # SO_REUSEADDR there would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # a restart may bind while the last run's connections sit in TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        in_use = exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None))
        hint = "--port picks another port (0 lets the system choose)" \
            if in_use or exc.errno == errno.EACCES else \
            "--host takes an address of this machine: 127.0.0.1 (the default), or 0.0.0.0 " \
            "for every interface"
        raise InputError(f"cannot listen on {host}:{port}: "
                         f"{'already in use' if in_use else exc.strerror or exc}",
                         hint=hint) from None
    return sock


def _until(done: Callable[[], bool], deadline: float, give_up: Cancel = NEVER) -> None:
    """Check done every 10 ms until it holds, the deadline passes or give_up is set."""
    while not done() and time.monotonic() < deadline and not give_up.is_set():
        time.sleep(0.01)


def _signature_problem(signer: Any, text: str, headers: dict[str, str]) -> str:
    """Why the Standard Webhooks signature does not verify ("" when it does), in the
    library's fixed words: never text from the request."""
    try:
        signer.verify(text, headers, json_parse=False)
    except WebhookVerificationError as exc:
        return str(exc) or "invalid"
    except ValueError:
        return "malformed signature header"
    return ""


def _request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    """The request's headers from a WSGI environ, with lower-case names."""
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


