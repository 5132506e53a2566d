"""The Event API client (`POST /e/{key}`): targets, retries and answers, for every command.

The only module that talks HTTP (httpx). Behaviour follows Inngest's open-source server and
its official SDKs (github.com/inngest/inngest `pkg/api/api.go`, inngest-py `client.py`): the
key lives only in the URL path;
network errors, 5xx and 429 are retried with exponential backoff and full jitter (honouring
`Retry-After`), other 4xx never are; one `x-inngest-event-id-seed` is kept for all the retries
of one request, so Inngest mints the same ids.
"""

from __future__ import annotations

import dataclasses
import email.utils
import ipaddress
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from . import __version__
from .cancel import NEVER, Cancel
from .errors import DodoInngestError, ExitCode
from .redaction import add_secret, add_url_secrets, redact

CLOUD_ORIGIN = "https://inn.gs"
DEV_ORIGIN = "http://127.0.0.1:8288"
DEV_KEY = "NO_EVENT_KEY_SET"
"""The key the official SDK uses against the Dev Server, which accepts any key."""
PLACEHOLDER_KEY = "<INNGEST_EVENT_KEY>"
"""Shown in a dry run's URL when no key is set."""
USER_AGENT = f"dodo-inngest/{__version__}"
MAX_RETRY_AFTER_S = 120.0
MAX_ANSWER_BYTES = 1024 * 1024
"""Inngest answers with a few ids; a longer answer is not Inngest's, and is not read on."""
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class SendError(DodoInngestError):
    """A send that cannot be made at all: no usable target, or a lookup that failed."""

    exit_code = ExitCode.USAGE


@dataclasses.dataclass(frozen=True)
class Target:
    """Where events go: a full Event API URL with the key in its path, and its environment."""

    url: str
    env: str | None = None
    dev: bool = False
    placeholder: bool = False
    """No key was set: a dry run shows PLACEHOLDER_KEY in its place."""

    @property
    def shown(self) -> str:
        """The URL as every output shows it (the key masked)."""
        return redact(self.url)

    @property
    def label(self) -> str:
        """The URL for people, saying what it is when that is not obvious."""
        if self.dev and self.url.endswith("/e/" + DEV_KEY):
            return f"{self.shown} (the Dev Server, which accepts any key)"
        if self.placeholder:
            return f"{self.shown} (no event key set: a placeholder stands in for it)"
        return self.shown

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the target."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def identity(self) -> str:
        """What makes two targets the same: the URL (see same_place) and x-inngest-env.
        Secret: store only a keyed hash of it."""
        return url_identity(self.url) + "\n" + (self.env or "")


def url_identity(url: str) -> str:
    """An Event API URL spelled one way: scheme, host and port, path with the key, query
    (the default port, a trailing slash, the case of the host and of escapes do not count).
    Two URLs with one identity are one destination."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port if parts.port not in (None, default) else None
    except ValueError:
        port = None
    host = (parts.hostname or "").lower() + (f":{port}" if port else "")
    path = quote(unquote(parts.path.rstrip("/")), safe="/")
    return "\n".join((parts.scheme.lower(), host, path, parts.query))


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false")


def _with_scheme(value: str, *, dev: bool) -> str:
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = ("http://" if dev else "https://") + value
    return value


def check_url(url: str, *, what: str, hint: str) -> tuple[str, str]:
    """(scheme, netloc) of an http(s) URL; anything else is a SendError naming the URL
    (secrets masked)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise SendError(f"{what} {redact(url)}: not a valid URL ({exc})", hint=hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SendError(f"{what} {redact(url)}: not an http(s) URL", hint=hint)
    return parts.scheme, parts.netloc


def resolve_target(*, url: str | None = None, event_key: str | None = None,
                   base_url: str | None = None, dev: str | bool | None = None,
                   env: str | None = None, environ: Mapping[str, str] | None = None,
                   dry_run: bool = False) -> Target:
    """The target from flags, then the environment, with the official SDK's precedence.

    `--url` wins outright. Otherwise the mode is `--dev` or INNGEST_DEV (true or a URL), else
    Inngest Cloud; the origin is --base-url, INNGEST_EVENT_API_BASE_URL, INNGEST_BASE_URL,
    INNGEST_DEV when it is a URL, then the default; the key is --event-key or
    INNGEST_EVENT_KEY (any key in dev mode; a visible placeholder in a dry run). Every secret
    found is registered for masking before anything can print it.
    """
    environ = os.environ if environ is None else environ
    branch = env or environ.get("INNGEST_ENV") or None
    if branch is not None and not all("!" <= c <= "~" for c in branch):
        raise SendError(f"--inngest-env {branch!r}: a branch environment's name is printable "
                        "ASCII with no spaces", hint="e.g. --inngest-env feature-billing "
                        "(or INNGEST_ENV)")
    if url and dev:
        add_url_secrets(url)
        raise SendError("--url and --dev both say where to send: give one",
                        hint="--dev sends to the local Dev Server; --url to the Event API URL "
                             "given")
    if url:
        add_url_secrets(url)
        check_url(url, what="--url", hint="e.g. --url https://inn.gs/e/$INNGEST_EVENT_KEY")
        if "/e/" not in urlsplit(url).path:
            raise SendError(f"--url {redact(url)}: no /e/<key> in the path",
                            hint="an Event API URL looks like https://inn.gs/e/<event key>")
        return Target(url=url, env=branch, dev=False)
    dev_env = environ.get("INNGEST_DEV")
    is_dev = bool(dev) if dev not in (None, False) else _truthy(dev_env)
    dev_url = dev if isinstance(dev, str) else (dev_env if dev_env and "://" in dev_env else None)
    origin = (base_url or environ.get("INNGEST_EVENT_API_BASE_URL")
              or environ.get("INNGEST_BASE_URL") or (dev_url if is_dev else None)
              or (DEV_ORIGIN if is_dev else CLOUD_ORIGIN))
    origin = _with_scheme(origin, dev=is_dev)
    add_url_secrets(origin)
    key = event_key or environ.get("INNGEST_EVENT_KEY") or None
    if key:
        add_secret(key)
    scheme, netloc = check_url(origin, what="base URL", hint="e.g. --base-url https://inn.gs")
    placeholder = False
    if not key:
        if is_dev:
            key = DEV_KEY
        elif dry_run:
            key, placeholder = PLACEHOLDER_KEY, True
        else:
            raise SendError("no Inngest event key",
                            hint="set INNGEST_EVENT_KEY or --event-key, pass --url, or use "
                                 "--dev for the Dev Server")
    # Like the SDK (urljoin with "/e/…"), a path in the base URL is not kept.
    path_key = key if placeholder else quote(key, safe="")
    return Target(url=f"{scheme}://{netloc}/e/{path_key}", env=branch, dev=is_dev,
                  placeholder=placeholder)


OURS = frozenset({"x-inngest-event-id-seed", "x-inngest-env"})
"""Headers the target and the seed decide: a transform's own spelling of them is not sent
(the replay state records where events went, and the seed is what de-duplicates them)."""


def request_headers(target: Target, seed: str,
                    extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers of a request to the Event API, in the order they are sent: user agent,
    content type, id seed, environment, then the transform's own (names lower-cased, so
    one of ours is replaced, never sent twice)."""
    headers = {"user-agent": USER_AGENT, "content-type": "application/json",
               "x-inngest-event-id-seed": seed}
    if target.env:
        headers["x-inngest-env"] = target.env
    headers.update((name.lower(), value) for name, value in (extra or {}).items()
                   if name.lower() not in OURS)
    return headers


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One HTTP attempt: its status (None for a network error) and what happened."""

    status: int | None
    note: str
    duration_ms: float


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the Event API made of one request, after the retries."""

    status: int | None
    """The final HTTP status; None when no answer came."""
    ids: list[str]
    """Inngest's ids, one per event sent, "" for the ones not accepted."""
    error: str
    hint: str
    attempts: list[Attempt]
    duration_ms: float

    @property
    def refused(self) -> bool:
        """Inngest answered with a 4xx: sending the same again will not help."""
        return self.status is not None and 400 <= self.status < 500


class EventClient:
    """An HTTP client for the Event API, reused across requests and threads; close it after."""

    def __init__(self, *, timeout: float = 10.0, retries: int = 5, backoff_s: float = 0.25,
                 max_backoff_s: float = 10.0, cancel: Cancel = NEVER,
                 log: Callable[[str], None] | None = None) -> None:
        self.retries = retries
        self.timeout = timeout
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.cancel = cancel
        self.log = log
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                   headers={"user-agent": USER_AGENT})

    def __enter__(self) -> EventClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (a request in flight in another thread then fails)."""
        self.client.close()

    def post(self, target: Target, *, url: str, method: str, body: bytes, count: int,
             headers: Mapping[str, str]) -> Answer:
        """Send one request body holding count events, retrying what may be retried."""
        started = time.perf_counter()
        attempts: list[Attempt] = []
        for attempt in range(self.retries + 1):
            self.cancel.check()
            begun = time.perf_counter()
            try:
                status, answer_headers, content = self._exchange(method, url, body, headers)
            except httpx.HTTPError as exc:
                note = _describe(exc)
                attempts.append(Attempt(None, note, _ms(begun)))
                self._log(f"{method} {url} attempt {attempt + 1}: {note}")
                if attempt == self.retries or _hopeless(exc, target):
                    return Answer(None, [""] * count, note, _network_hint(exc, target),
                                  attempts, _ms(started))
                self.cancel.sleep(self._backoff(attempt, None))
                continue
            except RuntimeError as exc:  # the client was closed by an interruption
                self.cancel.check()
                raise exc
            attempts.append(Attempt(status, _phrase(status), _ms(begun)))
            self._log(f"{method} {url} attempt {attempt + 1}: HTTP {status}")
            if status in RETRIED_STATUSES and attempt < self.retries:
                self.cancel.sleep(self._backoff(attempt, answer_headers.get("retry-after")))
                continue
            return _interpret(status, answer_headers, content, count, target, attempts,
                              _ms(started))
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, method: str, url: str, body: bytes | None,
                  headers: Mapping[str, str] | None) -> tuple[int, httpx.Headers, bytes]:
        """One request: its status, headers and at most MAX_ANSWER_BYTES (+1) of its answer,
        all within the timeout (httpx's own timeouts are per read: an answer that trickles
        in, or never ends, would hold the run, and its memory, for ever)."""
        deadline = time.monotonic() + self.timeout
        with self.client.stream(method, url, content=body, headers=headers) as response:
            content = bytearray()
            for chunk in response.iter_bytes():
                content += chunk
                if len(content) > MAX_ANSWER_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the answer took longer than the timeout")
            return response.status_code, response.headers, bytes(content)

    def get_json(self, url: str) -> Any:
        """GET a JSON document (the Dev Server's REST API); errors become SendError."""
        try:
            status, _, content = self._exchange("GET", url, None, None)
            if status >= 400:
                raise SendError(f"GET {url}: HTTP {status}")
            if len(content) > MAX_ANSWER_BYTES:
                raise SendError(f"GET {url}: the answer is over {MAX_ANSWER_BYTES:,} bytes")
            return json.loads(content)
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            raise SendError(f"GET {url}: {_describe(exc)}") from None

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        waited = retry_after_seconds(retry_after)
        if waited is not None:
            return min(waited, MAX_RETRY_AFTER_S)
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** attempt))

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is no answer
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _interpret(status: int, headers: httpx.Headers, content: bytes, count: int,
               target: Target, attempts: list[Attempt], duration_ms: float) -> Answer:
    document: Any = None
    if len(content) <= MAX_ANSWER_BYTES:
        try:
            document = json.loads(content)
        except (ValueError, RecursionError):
            document = None
    if not isinstance(document, dict):
        kind = headers.get("content-type", "no content type").split(";")[0]
        text = content[:4096].decode("utf-8", "replace")
        snippet = redact(" ".join(text.split()))[:80]  # masked before it is cut
        over = f"over {MAX_ANSWER_BYTES:,} bytes, " if len(content) > MAX_ANSWER_BYTES else ""
        return Answer(status, [""] * count,
                      f"HTTP {status} with a body that is not Inngest's JSON ({over}{kind}): "
                      f"{snippet!r}", _stranger_hint(status, headers), attempts, duration_ms)
    raw_ids = document.get("ids")
    ids = [i if isinstance(i, str) else "" for i in raw_ids] if isinstance(raw_ids, list) else []
    ids = (ids + [""] * count)[:count]
    error = redact(str(document.get("error") or document.get("message") or ""))[:2000]
    if status == 200 and not error and all(ids):
        return Answer(status, ids, "", "", attempts, duration_ms)
    if status == 200 and not error:
        return Answer(status, ids, f"HTTP 200 without an id for each event ({sum(map(bool, ids))}"
                      f" of {count})", "is this an Inngest Event API URL (…/e/<key>)?",
                      attempts, duration_ms)
    hint = _stranger_hint(status, headers) if 300 <= status < 400 else \
        _status_hint(status, error, target)
    return Answer(status, ids, error or f"HTTP {status}", hint,
                  attempts, duration_ms)


def _stranger_hint(status: int, headers: httpx.Headers) -> str:
    """What to make of an answer that is not Inngest's JSON."""
    if 300 <= status < 400:
        where = redact(headers.get("location", ""))[:200]
        return f"redirected{' to ' + where if where else ''}: give the Event API URL itself"
    return "a proxy or load balancer answered, not Inngest; check the URL and try again later"


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
    if isinstance(exc, RecursionError):
        return "the answer is JSON nested too deeply to read"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _loopback(target: Target) -> bool:
    host = urlsplit(target.url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hopeless(exc: httpx.HTTPError, target: Target) -> bool:
    """Retrying cannot help: nothing listens on a loopback port (a Dev Server not started)."""
    return isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower() \
        and _loopback(target)


def _network_hint(exc: httpx.HTTPError, target: Target) -> str:
    if isinstance(exc, httpx.ConnectError) and _loopback(target):
        return f"is the Dev Server running? npx inngest-cli@latest dev (at {target.origin})"
    if isinstance(exc, httpx.TimeoutException):
        return "the server did not answer in time; --timeout raises the limit"
    return "check the URL and your network; the retries ran out (--retries raises them)"


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
