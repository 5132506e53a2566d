"""Sending events to Inngest's Event API (`POST /e/{key}`): targets, retries and responses.

One module serves `send`, `listen` and `replay`. Behaviour follows Inngest's open-source server
and its official SDKs (shared/reference/inngest.md §2, §5): the key lives only in the URL path,
network errors, 5xx and 429 are retried with exponential backoff and full jitter (honouring
`Retry-After`), other 4xx never are, and one `x-inngest-event-id-seed` is kept for all the
retries of one logical request so that Inngest mints the same ids.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import json
import os
import random
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import __version__
from .errors import DodoInngestError, ExitCode
from .masking import mask_url

CLOUD_ORIGIN = "https://inn.gs"
DEV_ORIGIN = "http://127.0.0.1:8288"
DEV_KEY = "NO_EVENT_KEY_SET"
"""The key the official SDK uses against the Dev Server, which accepts any key."""
USER_AGENT = f"dodo-inngest/{__version__}"
MAX_RETRY_AFTER_S = 120.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class SendError(DodoInngestError):
    """A send that could not be made at all (no usable target)."""

    exit_code = ExitCode.USAGE


@dataclasses.dataclass(frozen=True)
class Target:
    """Where events go: a full Event API URL with the key in its path, and its environment."""

    url: str
    env: str | None = None
    dev: bool = False

    @property
    def shown(self) -> str:
        """The URL with the event key masked, for every output."""
        return mask_url(self.url)

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the target."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false")


def _with_scheme(value: str, *, dev: bool) -> str:
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = ("http://" if dev else "https://") + value
    return value


def resolve_target(*, url: str | None = None, event_key: str | None = None,
                   base_url: str | None = None, dev: str | bool | None = None,
                   env: str | None = None, environ: Mapping[str, str] | None = None) -> Target:
    """The target from flags, then the environment, with the official SDK's precedence.

    `--url` wins outright. Otherwise the mode is `--dev` or INNGEST_DEV (true or a URL), else
    Inngest Cloud; the origin is --base-url, INNGEST_EVENT_API_BASE_URL, INNGEST_BASE_URL,
    INNGEST_DEV when it is a URL, then the default; the key is --event-key or
    INNGEST_EVENT_KEY (any key in dev mode).
    """
    environ = os.environ if environ is None else environ
    branch = env or environ.get("INNGEST_ENV") or None
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SendError(f"--url {mask_url(url)}: not an http(s) URL",
                            hint="e.g. --url https://inn.gs/e/$INNGEST_EVENT_KEY")
        if "/e/" not in parts.path:
            raise SendError(f"--url {mask_url(url)}: no /e/<key> in the path",
                            hint="an Event API URL looks like https://inn.gs/e/<event key>")
        return Target(url=url, env=branch, dev=False)
    dev_env = environ.get("INNGEST_DEV")
    is_dev = bool(dev) if dev not in (None, False) else _truthy(dev_env)
    dev_url = dev if isinstance(dev, str) else (dev_env if dev_env and "://" in dev_env else None)
    origin = (base_url or environ.get("INNGEST_EVENT_API_BASE_URL")
              or environ.get("INNGEST_BASE_URL") or (dev_url if is_dev else None)
              or (DEV_ORIGIN if is_dev else CLOUD_ORIGIN))
    key = event_key or environ.get("INNGEST_EVENT_KEY") or (DEV_KEY if is_dev else None)
    if not key:
        raise SendError("no Inngest event key",
                        hint="set INNGEST_EVENT_KEY or --event-key, pass --url, or use --dev "
                             "for the Dev Server")
    origin = _with_scheme(origin, dev=is_dev)
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SendError(f"base URL {origin!r} is not an http(s) URL",
                        hint="e.g. --base-url https://inn.gs")
    # Like the SDK (urljoin with "/e/…"), a path in the base URL is not kept.
    return Target(url=f"{parts.scheme}://{parts.netloc}/e/{key}", env=branch, dev=is_dev)


def id_seed(now_ms: int | None = None) -> str:
    """An `x-inngest-event-id-seed`: "<millis>,<base64 of 10 random bytes>"."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{millis},{base64.b64encode(secrets.token_bytes(10)).decode()}"


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: its status (None for a network error) and what happened."""

    status: int | None
    note: str
    duration_ms: float


@dataclasses.dataclass(frozen=True)
class SendResult:
    """The outcome of one logical request (one event or one batch)."""

    outcome: str
    """`accepted`, `partial` (some events of a batch), `rejected` (4xx), or `failed`."""
    status: int | None
    ids: list[str]
    """Inngest's internal ids, one per event sent, "" for the ones not accepted."""
    error: str
    hint: str
    attempts: list[Attempt]
    duration_ms: float

    @property
    def ok(self) -> bool:
        """Every event was accepted."""
        return self.outcome == "accepted"


class Forwarder:
    """An HTTP client for the Event API, reused across requests; use it as a context manager."""

    def __init__(self, *, timeout: float = 10.0, retries: int = 5, backoff_s: float = 0.25,
                 max_backoff_s: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                 log: Callable[[str], None] | None = None) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.log = log
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                   headers={"user-agent": USER_AGENT})

    def __enter__(self) -> Forwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def headers(self, target: Target, seed: str,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The request headers: content type, environment, id seed, then the transform's."""
        headers = {"content-type": "application/json", "x-inngest-event-id-seed": seed}
        if target.env:
            headers["x-inngest-env"] = target.env
        headers.update(extra or {})
        return headers

    def send(self, target: Target, payload: Any, *, method: str = "POST",
             url: str | None = None, extra_headers: Mapping[str, str] | None = None,
             seed: str | None = None) -> SendResult:
        """Send one payload (an event or an array of them), retrying what may be retried."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        count = len(payload) if isinstance(payload, list) else 1
        headers = self.headers(target, seed or id_seed(), extra_headers)
        destination = url or target.url
        started = time.perf_counter()
        attempts: list[Attempt] = []
        for attempt in range(self.retries + 1):
            begun = time.perf_counter()
            try:
                response = self.client.request(method, destination, content=body,
                                               headers=headers)
            except httpx.HTTPError as exc:
                note = _describe(exc)
                attempts.append(Attempt(None, note, _ms(begun)))
                self._log(f"{method} {mask_url(destination)} attempt {attempt + 1}: {note}")
                if attempt == self.retries:
                    return SendResult("failed", None, [""] * count, note,
                                      _network_hint(exc, target), attempts, _ms(started))
                self.sleep(self._backoff(attempt, None))
                continue
            attempts.append(Attempt(response.status_code, response.reason_phrase, _ms(begun)))
            self._log(f"{method} {mask_url(destination)} attempt {attempt + 1}: "
                      f"HTTP {response.status_code}")
            if response.status_code in RETRIED_STATUSES and attempt < self.retries:
                self.sleep(self._backoff(attempt, response.headers.get("retry-after")))
                continue
            return _interpret(response, count, target, attempts, _ms(started))
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(self, url: str) -> Any:
        """GET a JSON document (the Dev Server's REST API); errors become SendError."""
        try:
            response = self.client.get(url)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SendError(f"GET {mask_url(url)}: {_describe(exc)}") from None

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        waited = _retry_after(retry_after)
        if waited is not None:
            return min(waited, MAX_RETRY_AFTER_S)
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** attempt))

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _interpret(response: httpx.Response, count: int, target: Target,
               attempts: list[Attempt], duration_ms: float) -> SendResult:
    status = response.status_code
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        snippet = " ".join(response.text.split())[:80]
        error = f"HTTP {status} with a body that is not Inngest's JSON ({kind}): {snippet!r}"
        outcome = "rejected" if 400 <= status < 500 else "failed"
        return SendResult(outcome, status, [""] * count, error,
                          "a proxy or load balancer answered, not Inngest; check the URL "
                          "and try again later", attempts, duration_ms)
    raw_ids = document.get("ids")
    ids = [i if isinstance(i, str) else "" for i in raw_ids] if isinstance(raw_ids, list) else []
    ids = (ids + [""] * count)[:count]
    error = str(document.get("error") or document.get("message") or "")
    if status == 200 and not error:
        return SendResult("accepted", status, ids, "", "", attempts, duration_ms)
    hint = _status_hint(status, error, target)
    outcome = "partial" if any(ids) else ("rejected" if 400 <= status < 500 else "failed")
    return SendResult(outcome, status, ids, error or f"HTTP {status}", hint, attempts,
                      duration_ms)


def _status_hint(status: int, error: str, target: Target) -> str:
    if status in (401, 404):
        where = "the Dev Server accepts any key" if target.dev else \
            "check the key and its environment (x-inngest-env / INNGEST_ENV), or use --dev " \
            "for a local Dev Server"
        return f"the event key was refused: {where}"
    if status == 400:
        return "Inngest rejected the event; 'dodo-inngest rules' explains the contract"
    if status == 413:
        return "the event is over your plan's size limit (256 KiB on Free)"
    if status == 503 and "Event keys are required" in error:
        return "a self-hosted Inngest needs event keys configured (inngest start --event-key)"
    if status == 429 or status >= 500:
        return "Inngest kept failing; the retries ran out (--retries raises them)"
    return ""


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection failed"
        if "Name or service not known" in reason or "nodename nor servname" in reason \
                or "Temporary failure in name resolution" in reason:
            return "DNS lookup failed"
        if "CERTIFICATE_VERIFY_FAILED" in reason or "SSL" in reason:
            return f"TLS failed: {reason}"
        if "refused" in reason.lower():
            return "connection refused"
        return f"cannot connect: {reason}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without answering"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _network_hint(exc: httpx.HTTPError, target: Target) -> str:
    if target.dev and isinstance(exc, httpx.ConnectError):
        return f"is the Dev Server running? npx inngest-cli@latest dev (at {target.origin})"
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time; --timeout raises the limit"
    return "check the URL and your network; the retries ran out (--retries raises them)"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0

