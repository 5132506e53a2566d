"""A loopback HTTP server that follows Inngest's Event API contract, with fault injection.

It answers `POST /e/{key}` as Inngest's open-source server does (pkg/api/api.go,
pkg/eventstream, pkg/event): one event or an array, 5,000 events at most, 3 MiB per event,
Go-style decode errors, reserved names, the `ts` range, `_inngest` stripped, ids in request
order with "" from the failing event on (a 400 with partial ids), 401 for unknown keys when keys
are configured. `GET /v1/events/{id}/runs` lists the runs started for an event by the functions
it was given. Every accepted event is also parsed with the official `inngest` SDK's Event model
as an independent check.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import random
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pydantic
from inngest import Event as SdkEvent

MAX_EVENTS = 5_000
MAX_EVENT_BYTES = 3 * 1024 * 1024
MIN_TS, MAX_TS = 315_532_800_000, 4_102_444_800_000
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GO_TYPES = {"id": "string", "name": "string", "data": "map[string]interface {}",
            "ts": "int64", "v": "string", "user": "map[string]interface {}"}


@dataclasses.dataclass
class Fault:
    """What to do instead of answering normally, for one request."""

    kind: str
    """`status` (answer with status), `drop` (close without answering), `slow` (wait first),
    `html` (a proxy's HTML error page), `body` (answer status with the given JSON body),
    `endless` (a chunked answer that trickles in and never ends)."""
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes = b""


@dataclasses.dataclass
class Received:
    """One accepted event, as stored."""

    id: str
    key: str
    event: dict[str, Any]
    headers: dict[str, str]


def ulid(millis: int, entropy: bytes) -> str:
    """A ULID string: 48 bits of milliseconds, 80 bits of entropy, Crockford base32."""
    value = (millis << 80) | int.from_bytes(entropy[:10].rjust(10, b"\0"), "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class InngestServer:
    """Run with `with InngestServer() as server:`; `server.url` is http://127.0.0.1:PORT."""

    def __init__(self, *, keys: set[str] | None = None,
                 functions: dict[str, str] | None = None, fault_rate: float = 0.0,
                 seed: int = 7, runs_api: bool = True) -> None:
        self.keys = keys
        self.functions = functions or {}
        self.faults: deque[Fault] = deque()
        self.fault_rate = fault_rate
        """The share of requests that fail at random (500, 429 or a dropped connection)."""
        self.random = random.Random(seed)
        self.runs_api = runs_api
        self.echo_key = False
        """True: an unknown key is named in the 401, as some proxies and servers do."""
        """False: `GET /v1/events/{id}/runs` answers 404, as a server without it would."""
        self.received: list[Received] = []
        self.requests: list[dict[str, Any]] = []
        self.oracle_errors: list[str] = []
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> InngestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, *faults: Fault) -> None:
        """Queue faults for the next requests, in order."""
        self.faults.extend(faults)

    def events(self) -> Iterator[dict[str, Any]]:
        """The stored events, in the order they were accepted."""
        return (item.event for item in self.received)

    def count_by_event_id(self) -> Counter[str]:
        """How many times each event `id` arrived."""
        return Counter(str(item.event.get("id")) for item in self.received)

    # -- the contract -------------------------------------------------------------------

    def ingest(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Handle a `POST /e/{key}` body as Inngest does; returns (status, JSON answer)."""
        if self.keys is not None:
            if not key:
                return 401, {"status": 401, "message": "", "error": "Event key is required"}
            if key not in self.keys:
                shown = f"Event key {key} not found" if self.echo_key else "Event key not found"
                return 401, {"status": 401, "message": "", "error": shown}
        text = body.decode("utf-8", errors="replace").lstrip()
        if not text:
            return 200, {"ids": [""], "status": 200}
        if text[0] == "{":
            items: list[tuple[Any, int]] = [(None, len(body))]
            try:
                items = [(json.loads(text), len(body))]
            except json.JSONDecodeError as exc:
                return 400, {"ids": [""], "status": 400, "error": _go_syntax(exc)}
        elif text[0] == "[":
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                return 400, {"ids": [""], "status": 400, "error": _go_syntax(exc)}
            if len(parsed) > MAX_EVENTS:
                return 400, {"ids": [""], "status": 400,
                             "error": f"Cannot have more than {MAX_EVENTS} events in a batch"}
            items = [(item, len(json.dumps(item, separators=(",", ":")).encode()))
                     for item in parsed]
        else:
            return 400, {"ids": [""], "status": 400, "error": (
                "Request body must contain an event object or an array of event objects")}
        seed = headers.get("x-inngest-event-id-seed", "")
        ids: list[str] = []
        for index, (item, size) in enumerate(items):
            error = self._problem(item, size)
            if error:
                ids.append("")
                return 400, {"ids": ids, "status": 400, "error": error}
            ids.append(self._store(item, key, headers, seed, index))
        return 200, {"ids": ids, "status": 200}

    def _problem(self, item: Any, size: int) -> str:
        """What Inngest would reject this event for (decode, normalise, validate), or ""."""
        if size > MAX_EVENT_BYTES:
            return f"Event is over the max size: Max {MAX_EVENT_BYTES} bytes / Size {size} bytes"
        if not isinstance(item, dict):
            return (f"json: cannot unmarshal {_json_type(item)} into Go value of type "
                    "event.Event")
        for field, go_type in GO_TYPES.items():
            if field in item and item[field] is not None and not _fits(item[field], go_type):
                value = item[field]
                shown = f"number {value}" if _json_type(value) == "number" else _json_type(value)
                return (f"json: cannot unmarshal {shown} into Go struct field Event.{field} "
                        f"of type {go_type}")
        name = item.get("name") or ""
        if name.lower().startswith("inngest/"):
            return f"event name is reserved for internal use: {name}"
        if not name:
            return "event name is empty"
        ts = item.get("ts") or int(time.time() * 1000)
        if ts < MIN_TS:
            return "timestamp is before Jan 1, 1980"
        if ts > MAX_TS:  # Go's time.After: exactly Jan 1, 2100 is accepted
            return "timestamp is after Jan 1, 2100"
        return ""

    def _store(self, item: dict[str, Any], key: str, headers: dict[str, str], seed: str,
               index: int) -> str:
        """Normalise and keep an accepted event, start its runs; returns its internal id."""
        event = {k: v for k, v in item.items() if k in GO_TYPES or k == "meta"}
        name = event["name"]
        data = event.get("data") or {}
        data.pop("_inngest", None)
        event["data"] = data
        event["ts"] = event.get("ts") or int(time.time() * 1000)
        event.setdefault("user", {})
        event_id = self._mint(seed, index)
        try:
            SdkEvent.model_validate({k: v for k, v in event.items() if k in ("name", "data",
                                                                           "id", "ts")})
        except pydantic.ValidationError as exc:
            self.oracle_errors.append(str(exc))
        with self.lock:
            self.received.append(Received(event_id, key, event, dict(headers)))
            self.runs[event_id] = [
                {"run_id": self._mint("", 0), "function_id": function,
                 "event_id": event_id, "status": "Running",
                 "run_started_at": dt.datetime.now(dt.timezone.utc).isoformat()}
                for function, trigger in self.functions.items() if _triggers(trigger, name)]
        return event_id

    def _mint(self, seed: str, index: int) -> str:
        millis_text, _, entropy_text = seed.partition(",")
        try:
            millis = int(millis_text)
            entropy = base64.b64decode(entropy_text, validate=True)
        except ValueError:
            return ulid(int(time.time() * 1000), secrets.token_bytes(10))
        bumped = (int.from_bytes(entropy[:10].rjust(10, b"\0"), "big") + index) % (1 << 80)
        return ulid(millis, bumped.to_bytes(10, "big"))

    # -- HTTP ---------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out without a delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _answer(self, status: int, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _fault(self) -> bool:
                with server.lock:
                    fault = server.faults.popleft() if server.faults else None
                    if fault is None and server.random.random() < server.fault_rate:
                        fault = server.random.choice([
                            Fault("status", 500), Fault("status", 429, retry_after="0"),
                            Fault("drop")])
                if fault is None:
                    return False
                if fault.kind == "slow":
                    time.sleep(fault.delay)
                    return False
                if fault.kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return True
                if fault.kind == "body":
                    self.send_response(fault.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(fault.body)))
                    self.end_headers()
                    self.wfile.write(fault.body)
                    return True
                if fault.kind == "endless":
                    self.send_response(fault.status)
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    self.close_connection = True
                    try:
                        while True:
                            self.wfile.write(b"400\r\n" + b" " * 1024 + b"\r\n")
                            self.wfile.flush()
                            time.sleep(0.005)
                    except OSError:  # the client went away
                        return True
                if fault.kind == "html":
                    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    self.send_response(fault.status)
                    self.send_header("content-type", "text/html")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return True
                self.send_response(fault.status)
                body = json.dumps({"status": fault.status, "error": "injected"}).encode()
                self.send_header("content-type", "application/json")
                if fault.retry_after is not None:
                    self.send_header("retry-after", fault.retry_after)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server.lock:
                    server.requests.append({"path": self.path, "headers": headers,
                                            "body": body})
                if self._fault():
                    return
                if not self.path.startswith("/e/"):
                    self._answer(404, {"error": "not found"})
                    return
                status, document = server.ingest(self.path[3:].split("?")[0], body, headers)
                self._answer(status, document)

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if server.runs_api and len(parts) == 4 and parts[:2] == ["v1", "events"] \
                        and parts[3] == "runs":
                    with server.lock:
                        runs = list(server.runs.get(parts[2], []))
                    self._answer(200, {"data": runs, "metadata": {
                        "fetched_at": dt.datetime.now(dt.timezone.utc).isoformat()}})
                    return
                self._answer(404, {"error": "not found"})

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """Connections the tests drop on purpose are not errors worth printing."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore broken and reset connections; report anything else."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _fits(value: Any, go_type: str) -> bool:
    if go_type == "string":
        return isinstance(value, str)
    if go_type == "int64":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, dict)


def _go_syntax(exc: json.JSONDecodeError) -> str:
    return f"invalid character looking for beginning of value (offset {exc.pos})"


def _triggers(trigger: str, name: str) -> bool:
    """Inngest's trigger matching: exact, or a wildcard after `/` or `.`, prefix-anchored."""
    if trigger.endswith("*") and trigger[-2:-1] in ("/", "."):
        return name.startswith(trigger[:-1])
    return trigger == name
