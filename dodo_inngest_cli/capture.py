"""Capture files: real Dodo deliveries, one JSON line each, appended durably and read as a stream.

A line is `{"v": 1, "id", "received_at", "headers": {lower-case names}, "body": "<raw body>",
"verified": true|false|null}`. Lines are written whole, flushed and fsync'ed before the
listener answers 2xx; `authorization` and `cookie` headers are never stored. Reading is line by
line, so memory stays flat however large a capture grows; a torn or invalid line is reported
with its number and skipped. Plain Dodo payload files, and folders of them, are read as
deliveries too.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from .errors import ExitCode, InputError, verdict
from .files import ends_with_newline, open_for_append
from .models import Webhook
from .redaction import add_secret
from .sources import content_key, files_in, parse_webhook

CAPTURE_VERSION = 1
NEVER_STORED = frozenset({"authorization", "cookie", "proxy-authorization"})
CAPTURE_SUFFIXES = (".jsonl", ".ndjson")
READABLE_SUFFIXES = (*CAPTURE_SUFFIXES, ".json")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One received (or captured) Dodo delivery."""

    id: str
    received_at: str
    headers: dict[str, str]
    body: str
    verified: bool | None
    source: str
    """Where it was read from, for people: `capture.jsonl:12`, a file path, `listener`."""

    def to_line(self) -> str:
        """The capture-file line (without the newline)."""
        return json.dumps({"v": CAPTURE_VERSION, "id": self.id,
                           "received_at": self.received_at, "headers": self.headers,
                           "body": self.body, "verified": self.verified},
                          ensure_ascii=False, separators=(",", ":"))

    def webhook(self) -> Webhook:
        """The delivery as a Webhook (raises InputError when the body is not a Dodo object)."""
        webhook = parse_webhook(self.body.encode("utf-8"), source=self.source, name=self.id,
                                embedded=True)
        return dataclasses.replace(webhook, headers=self.headers)

    @property
    def event_time(self) -> dt.datetime | None:
        """The Dodo event time (the body's `timestamp`), when it has a readable one."""
        try:
            stamp = json.loads(self.body).get("timestamp")
            return parse_time(stamp) if isinstance(stamp, str) else None
        except (ValueError, AttributeError, RecursionError):
            return None


@dataclasses.dataclass(frozen=True)
class Problem:
    """A line or file that could not be read as a delivery; reported, then skipped."""

    source: str
    message: str


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time (a bare date counts as midnight UTC); naive times are UTC."""
    when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def now_iso() -> str:
    """The current UTC time as ISO-8601 with milliseconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def stored_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a capture keeps them: lower-case names, credentials left out."""
    return {name.lower(): value for name, value in headers
            if name.lower() not in NEVER_STORED}


class CaptureWriter:
    """Appends deliveries to a capture file: whole lines, fsync'ed, thread-safe, all or nothing.

    Bytes go straight to the file descriptor, so no buffer can write a refused line later. An
    append that fails (disk full, an I/O error at fsync) cuts the file back and raises: a
    delivery answered 5xx is never in the capture. Appends made at the same time share an
    fsync (group commit): each returns once an fsync that began after its write has finished,
    so a slow disk costs one flush per group of deliveries rather than one each.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Condition()
        self._handle: TextIO = open_for_append(path, "capture file",
                                               "check the folder exists and is writable")
        self._fd = self._handle.fileno()
        self._end = self._synced = os.fstat(self._fd).st_size
        self._torn = self._end > 0 and not ends_with_newline(path)
        self._syncing = False
        self._failures: list[tuple[int, OSError]] = []
        """Each failed fsync: where it cut the file back to (its last durable size), and why."""

    def append(self, delivery: Delivery) -> None:
        """Write one delivery durably; raises OSError (disk full…) for the caller to answer 5xx."""
        line = (delivery.to_line() + "\n").encode("utf-8")
        with self._lock:
            end, epoch = self._write(line), len(self._failures)
            while not self._durable(end, epoch):
                if self._syncing:
                    self._lock.wait()
                else:
                    self._sync()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._handle.close()

    def _write(self, line: bytes) -> int:
        """Append a line (on a fresh line after a crash's torn one); where it ends."""
        if self._torn:
            line = b"\n" + line
        start = os.fstat(self._fd).st_size
        try:
            _write_all(self._fd, line)
        except OSError:
            self._cut_back(start)
            raise
        self._torn = False
        self._end = start + len(line)
        return self._end

    def _durable(self, end: int, epoch: int) -> bool:
        """Whether a line ending at `end`, written after `epoch` failures, is on disk; raises
        if a failed fsync cut it away."""
        for cut, failure in self._failures[epoch:]:
            if end > cut:
                raise OSError(failure.errno, failure.strerror)
        return self._synced >= end

    def _sync(self) -> None:
        """fsync what is written so far, without holding the lock while it runs; on failure,
        cut the file back to its last durable size."""
        self._syncing, target = True, self._end
        self._lock.release()
        try:
            failure = _fsync(self._fd)
        finally:
            self._lock.acquire()
            self._syncing = False
        if failure is None:
            self._synced = max(self._synced, target)
        else:
            self._cut_back(self._synced)
            self._failures.append((self._synced, failure))
        self._lock.notify_all()

    def _cut_back(self, size: int) -> None:
        """Remove failed appends' bytes; if even that fails, the next line starts afresh."""
        try:
            os.ftruncate(self._fd, size)
            self._torn = size > 0 and not ends_with_newline(self.path)
        except OSError:
            self._torn = True
        self._end = size


def _fsync(fd: int) -> OSError | None:
    try:
        os.fsync(fd)
    except OSError as exc:
        return exc
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]



def read_deliveries(paths: Iterable[Path]) -> Iterator[Delivery | Problem]:
    """Every delivery in capture files, payload files and folders of them, as a stream."""
    for path in paths:
        check_capture_path(path)
        if path.is_dir():
            files = files_in(path, READABLE_SUFFIXES)
            if not files:
                raise InputError(f"{path}: the folder holds no captures (.jsonl) or payloads "
                                 "(.json)")
            yield from read_deliveries(files)
        elif path.suffix in CAPTURE_SUFFIXES:
            yield from _read_capture(path)
        else:
            yield _read_payload_file(path)


def check_capture_path(path: Path) -> None:
    """An InputError for a path no delivery can be read from: missing, or neither a folder
    nor a capture or payload file."""
    if not path.exists():
        raise InputError(f"{path}: no such capture or payload file",
                         hint="dodo-inngest listen --capture FILE writes captures")
    if not path.is_dir() and path.suffix not in READABLE_SUFFIXES:
        raise InputError(f"{path}: not a capture (.jsonl) or payload (.json) file",
                         hint="captures end in .jsonl (one delivery a line), payload files "
                              "in .json")


def count_deliveries(paths: Iterable[Path]) -> int:
    """How many deliveries the paths hold, roughly (non-blank lines and payload files),
    counted without parsing, for a progress bar."""
    total = 0
    for path in paths:
        if path.is_dir():
            total += count_deliveries(files_in(path, READABLE_SUFFIXES))
        elif path.suffix in CAPTURE_SUFFIXES and path.is_file():
            with path.open("rb") as handle:
                total += sum(1 for raw in handle if raw.strip())
        elif path.is_file():
            total += 1
    return total


def _read_payload_file(path: Path) -> Delivery | Problem:
    """A plain payload file as a delivery, identified by its content, never its name."""
    try:
        body = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(str(path), f"cannot read: {getattr(exc, 'strerror', None) or exc}")
    try:
        identity = content_key(json.loads(body))
    except (ValueError, RecursionError):
        identity = "body-" + hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    return Delivery(id=identity, received_at=stamp.isoformat(), headers={},
                    body=body, verified=None, source=str(path))


def _read_capture(path: Path) -> Iterator[Delivery | Problem]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such capture or payload file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        number = 0
        for raw in handle:
            number += 1
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            if not raw.endswith(b"\n"):
                yield Problem(where, "the last line is torn (the writer stopped mid-line); "
                                     "skipped")
                return
            yield _parse_line(raw, where)


def _parse_line(raw: bytes, where: str) -> Delivery | Problem:
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Problem(where, f"not a JSON line ({exc}); skipped")
    except RecursionError:
        return Problem(where, "a JSON line nested too deeply to read; skipped")
    if not isinstance(record, dict) or not isinstance(record.get("body"), str):
        return Problem(where, "not a capture record (no \"body\" string); skipped")
    if record.get("v", CAPTURE_VERSION) != CAPTURE_VERSION:
        return Problem(where, f"capture version {record.get('v')!r} is not {CAPTURE_VERSION};"
                              " skipped")
    headers = record.get("headers") or {}
    if not isinstance(headers, dict):
        return Problem(where, "\"headers\" is not an object; skipped")
    headers = {str(k).lower(): str(v) for k, v in headers.items()}
    verified = record.get("verified")
    return Delivery(id=str(record.get("id") or headers.get("webhook-id") or where),
                    received_at=str(record.get("received_at") or ""), headers=headers,
                    body=record["body"], verified=verified if isinstance(verified, bool)
                    else None, source=where)


# -- signatures (Standard Webhooks, as Dodo sends them) -----------------------------------


def load_secret(secret: str) -> Any:
    """A standardwebhooks Webhook for the `whsec_…` secret; a malformed one is an InputError
    that never shows the secret."""
    from standardwebhooks.webhooks import Webhook as Signer

    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    add_secret(secret)
    add_secret(raw)
    try:
        key = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError):
        key = b""
    if not 16 <= len(key) <= 128 or not raw or any(c.isspace() for c in raw):
        raise InputError("the webhook secret is not a whsec_… base64 key",
                         hint="copy it from Dodo's dashboard (Webhooks → the endpoint → "
                              "Signing secret), or set DODO_PAYMENTS_WEBHOOK_KEY")
    return Signer(secret)


def check_signature(signer: Any, delivery: Delivery, *,
                    tolerance_s: float | None) -> tuple[str, str]:
    """("valid"|"invalid"|"unsigned", reason): the Standard Webhooks signature of a delivery.

    tolerance_s None checks the signature only (captures are old); otherwise the timestamp
    must also be within that many seconds of now.
    """
    headers = delivery.headers
    msg_id, stamp, signature = (headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                headers.get("webhook-signature"))
    if not (msg_id or stamp or signature):
        return "unsigned", "no webhook-id, webhook-timestamp or webhook-signature header"
    if not (msg_id and stamp and signature):
        missing = [n for n, v in (("webhook-id", msg_id), ("webhook-timestamp", stamp),
                                  ("webhook-signature", signature)) if not v]
        return "invalid", f"missing {', '.join(missing)}"
    try:
        sent_at = dt.datetime.fromtimestamp(float(stamp), dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return "invalid", f"webhook-timestamp {stamp!r} is not a Unix time"
    if tolerance_s is not None:
        skew = abs((dt.datetime.now(dt.timezone.utc) - sent_at).total_seconds())
        if skew > tolerance_s:
            return "invalid", f"signed {skew:.0f} s from now; the tolerance is {tolerance_s:g} s"
    try:
        expected = base64.b64decode(signer.sign(msg_id=msg_id, timestamp=sent_at,
                                                data=delivery.body).split(",", 1)[1])
    except UnicodeEncodeError:  # a hand-made line: a lone surrogate in the id or the body
        return "invalid", "the webhook-id or the body holds text that is not valid Unicode"
    # Read as the standardwebhooks library reads it (which the listener uses): the same
    # signature is valid or invalid to both.
    candidates = [candidate.split(",") for candidate in signature.split(" ")]
    if any(len(parts) != 2 for parts in candidates):
        return "invalid", "malformed signature header"
    for version, value in candidates:
        try:
            given = base64.b64decode(value)
        except ValueError:
            return "invalid", "malformed signature header"
        if version == "v1" and hmac.compare_digest(given, expected):
            return "valid", ""
    return "invalid", "no signature matches the body (tampered, or another secret)"


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """A row per delivery checked, their tally, and the verdict."""

    rows: list[dict[str, str]]

    def counts(self) -> dict[str, int]:
        """Deliveries by result."""
        return {key: sum(r["result"] == key for r in self.rows)
                for key in ("valid", "invalid", "unsigned", "unreadable")}

    @property
    def ok(self) -> bool:
        """No delivery has a signature that fails to verify."""
        return not self.counts()["invalid"]

    @property
    def exit_code(self) -> ExitCode:
        """1 when a signature fails, else 0."""
        return verdict(self.ok)

    def to_json(self) -> dict[str, Any]:
        """The JSON report."""
        return {"version": 1, "ok": self.ok, "summary": self.counts(), "deliveries": self.rows}


def verify_all(paths: Iterable[Path], signer: Any, *,
               tolerance_s: float | None) -> VerifyReport:
    """A row per delivery: its id, where it was, valid/invalid/unsigned/unreadable, and why."""
    rows = []
    for item in read_deliveries(paths):
        if isinstance(item, Delivery):
            state, reason = check_signature(signer, item, tolerance_s=tolerance_s)
            rows.append({"delivery": item.id, "source": item.source, "result": state,
                         "reason": reason})
        else:
            rows.append({"delivery": "", "source": item.source, "result": "unreadable",
                         "reason": item.message})
    return VerifyReport(rows)
