"""A local receiver for real Dodo deliveries: verify, capture durably, optionally forward.

Built on the standard library's ThreadingHTTPServer: no extra dependency, one thread per
connection, and a blocking fsync before each 2xx answer is natural there. Throughput is
measured in tests/benchmarks/.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .capture import CaptureWriter, Delivery, now_iso, stored_headers
from .errors import InputError
from .models import event_type_of
from .relay import Dispatch

DEFAULT_BODY_LIMIT = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Received:
    """One request the listener answered, for the live view and the summary."""

    at: str
    delivery: str
    event_type: str
    status: int
    verified: bool | None
    forwarded: Dispatch | None = None
    note: str = ""


@dataclasses.dataclass
class ListenerConfig:
    """How the listener behaves."""

    path: str = "/"
    signer: Any = None
    capture: CaptureWriter | None = None
    forward: Callable[[Delivery], Dispatch] | None = None
    ack_after_forward: bool = False
    body_limit: int = DEFAULT_BODY_LIMIT


class Listener:
    """Serve until stop(); every request's fate goes to on_received."""

    def __init__(self, host: str, port: int, config: ListenerConfig,
                 on_received: Callable[[Received], None]) -> None:
        self.config = config
        self.on_received = on_received
        try:
            self.httpd = _Server((host, port), self._handler())
        except OSError as exc:
            reason = "already in use" if exc.errno in (98, 48) else exc.strerror
            raise InputError(f"cannot listen on {host}:{port}: {reason}",
                             hint="--port picks another port (0 lets the system choose)") \
                from None
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,),
                                       daemon=True)

    @property
    def address(self) -> str:
        """http://host:port of the listener."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Start serving in a background thread."""
        self.thread.start()

    def stop(self) -> None:
        """Stop accepting, and wait for the requests in flight to finish."""
        self.httpd.shutdown()
        self.httpd.server_close()  # joins the request threads (block_on_close)

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Verify, capture, forward one delivery; returns the status and JSON answer."""
        config = self.config
        kept = stored_headers(headers.items())
        delivery_id = kept.get("webhook-id") or f"local_{uuid.uuid4().hex}"
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:  # a capture keeps bodies byte-exact, as text
            self.on_received(Received(now_iso(), delivery_id, "", 400, None,
                                      note=f"body is not UTF-8 (byte {exc.start})"))
            return 400, {"error": f"the body is not UTF-8 (byte {exc.start})"}
        event_type = event_type_of(text)
        verified: bool | None = None
        if config.signer is not None:
            from standardwebhooks.webhooks import WebhookVerificationError

            try:
                config.signer.verify(text, kept, json_parse=False)
                verified = True
            except (WebhookVerificationError, ValueError) as exc:
                reason = str(exc) or "malformed signature header"
                self.on_received(Received(now_iso(), delivery_id, event_type, 401, False,
                                          note=f"signature: {reason}"))
                return 401, {"error": f"invalid signature: {reason}"}
        delivery = Delivery(delivery_id, now_iso(), kept, text, verified, "listener")
        if config.capture is not None:
            try:
                config.capture.append(delivery)
            except OSError as exc:
                self.on_received(Received(delivery.received_at, delivery_id, event_type, 507,
                                          verified, note=f"capture failed: {exc.strerror}"))
                return 507, {"error": "the delivery could not be stored; retry later"}
        forwarded = config.forward(delivery) if config.forward is not None else None
        status = 200
        if forwarded is not None and config.ack_after_forward and forwarded.outcome.failing:
            status = 502
        self.on_received(Received(delivery.received_at, delivery_id, event_type, status,
                                  verified, forwarded))
        answer: dict[str, Any] = {"received": delivery_id}
        if forwarded is not None:
            answer.update(forwarded=forwarded.outcome.value, ids=forwarded.ids)
        return status, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out without a delayed-ACK stall
            server_version = "dodo-inngest"

            def log_message(self, format: str, *args: Any) -> None:
                """The live view reports requests; no access log."""

            def _answer(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                if self.close_connection:
                    self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.split("?")[0] != listener.config.path:
                    self._answer(404, {"error": "not found"})
                    return
                self._answer(200, {"status": "listening", "path": listener.config.path})

            def do_POST(self) -> None:
                if self.path.split("?")[0] != listener.config.path:
                    self.close_connection = True  # the body is not read
                    self._answer(404, {"error": f"POST to {listener.config.path}"})
                    return
                length_header = self.headers.get("content-length")
                if length_header is None or not length_header.isdigit():
                    self.close_connection = True
                    self._answer(411, {"error": "a content-length is required"})
                    return
                length = int(length_header)
                if length > listener.config.body_limit:
                    self.close_connection = True
                    listener.on_received(Received(now_iso(), "", "", 413, None,
                                                  note=f"body of {length} bytes"))
                    self._answer(413, {"error": f"body over {listener.config.body_limit} "
                                                "bytes"})
                    return
                body = self.rfile.read(length)
                try:
                    status, document = listener.handle(body, dict(self.headers.items()))
                except Exception as exc:  # keep serving; the live view shows what broke
                    listener.on_received(Received(now_iso(), "", "", 500, None,
                                                  note=f"{type(exc).__name__}: {exc}"))
                    status, document = 500, {"error": "internal error"}
                self._answer(status, document)

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request is not an error worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError,
                                              TimeoutError)):
            super().handle_error(request, client_address)


