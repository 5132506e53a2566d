"""Inngest's event contract: what `POST /e/{key}` accepts, checked before anything is sent.

The rules follow Inngest's open-source server (github.com/inngest/inngest: `pkg/event/event.go`,
`pkg/event/inbound.go`, `pkg/eventstream/eventstream.go`) and its docs' limits page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
from typing import Any

from .jsonio import describe
from .rules import Finding, finding

MIN_TS_MS = 315_532_800_000
"""Jan 1, 1980 in milliseconds: Inngest rejects anything before."""
MAX_TS_MS = 4_102_444_800_000
"""Jan 1, 2100 in milliseconds: Inngest rejects anything after (its check is a strict
`After`, so this very millisecond is accepted)."""
MAX_EVENT_BYTES = 3 * 1024 * 1024
FREE_PLAN_EVENT_BYTES = 256 * 1024
MAX_BATCH = 5_000
MAX_NAME_LENGTH = 255
MAX_SESSIONS = 5
FUTURE_TOLERANCE_MS = 60_000
"""Clock skew allowed before a `ts` counts as in the future."""
MAX_SURROGATE_FINDINGS = 3
"""lone-surrogate findings per event; one string cut short usually means several."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def event_names(payload: Any) -> list[str]:
    """The event names in an outgoing payload (one event or an array of them)."""
    events = payload if isinstance(payload, list) else [payload]
    return [e["name"] for e in events if isinstance(e, dict) and isinstance(e.get("name"), str)]


def check_payload(payload: Any, *, now_ms: int | None = None) -> list[Finding]:
    """Check an outgoing payload (one event or an array of them) against the contract."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if isinstance(payload, list):
        if not payload:
            return [finding("batch-empty", "the payload is an empty array: no event is sent",
                            hint="send at least one event, or cancel the delivery")]
        findings: list[Finding] = []
        if len(payload) > MAX_BATCH:
            findings.append(finding(
                "batch-too-large",
                f"the payload holds {len(payload):,} events; Inngest accepts at most "
                f"{MAX_BATCH:,} per request", hint="split the events over several requests"))
        for index, event in enumerate(payload):
            findings.extend(check_event(event, f"/{index}", now))
        return findings
    return check_event(payload, "", now)


def check_event(event: Any, prefix: str, now_ms: int) -> list[Finding]:
    """Check one event object; paths in findings are JSON pointers under prefix."""
    if not isinstance(event, dict):
        return [finding(
            "payload-not-event",
            f"{_where(prefix)} is {describe(event)}, not an event object",
            path=prefix, hint="set webhook.payload to {name, data, id, ts}")]
    findings: list[Finding] = []
    findings += _check_name(event, prefix)
    findings += _check_data(event, prefix)
    findings += _check_ts(event, prefix, now_ms)
    findings += _check_strings(event, prefix)
    findings += _check_user_and_meta(event, prefix)
    findings += _check_text(event, prefix)
    return findings


def _check_name(event: dict[str, Any], prefix: str) -> list[Finding]:
    name = event.get("name")
    path = f"{prefix}/name"
    if not isinstance(name, str) or not name:
        what = "missing" if name is None else f"{describe(name)}, not a non-empty string"
        return [finding("name-missing", f"the event name is {what}", path=path,
                        hint='give every event a name, e.g. name: "dodo/payment.succeeded"')]
    if name.lower().startswith("inngest/"):
        return [finding("name-reserved",
                        f"'{name}' starts with 'inngest/', which Inngest reserves for itself",
                        path=path, hint="use your own prefix, e.g. 'dodo/'")]
    if len(name) > MAX_NAME_LENGTH:
        return [finding("name-too-long",
                        f"the event name is {len(name)} characters; at most {MAX_NAME_LENGTH}",
                        path=path, hint="shorten the name; put details in data")]
    if name != name.lower() or "/" not in name or " " in name:
        suggestion = name.lower().replace(" ", "_")
        if "/" not in suggestion:
            suggestion = f"dodo/{suggestion}"
        return [finding("name-style",
                        f"'{name}': Inngest recommends lowercase, provider-prefixed names",
                        path=path, hint=f"e.g. '{suggestion}'")]
    return []


def _check_data(event: dict[str, Any], prefix: str) -> list[Finding]:
    data = event.get("data")
    path = f"{prefix}/data"
    if data is None:
        return [finding("data-missing", "the event has no data; functions receive {}",
                        path=path, hint="put what your functions need in data")]
    if not isinstance(data, dict):
        return [finding("data-not-object", f"data is {describe(data)}, not an object",
                        path=path, hint="wrap the value: data: { value: … }")]
    if "_inngest" in data:
        return [finding("data-reserved-key", "data._inngest is stripped by Inngest on receipt",
                        path=f"{path}/_inngest", hint="rename the key")]
    return []


def _check_ts(event: dict[str, Any], prefix: str, now_ms: int) -> list[Finding]:
    ts = event.get("ts")
    path = f"{prefix}/ts"
    if ts is None or ts == 0:
        return []  # Inngest sets the time of receipt
    if isinstance(ts, bool) or not isinstance(ts, int):
        if isinstance(ts, float) and ts.is_integer():
            ts = int(ts)
        else:
            return [finding("ts-not-integer",
                            f"ts is {describe(ts)}; Inngest wants integer milliseconds",
                            path=path,
                            hint="use new Date(…).getTime(), which is already whole ms")]
    if ts < MIN_TS_MS and MIN_TS_MS <= ts * 1000 <= MAX_TS_MS:
        return [finding(
            "ts-in-seconds",
            f"ts {ts} is in seconds: as milliseconds, which Inngest reads, it is "
            f"{_date(ts)}, and Inngest rejects it ('timestamp is before Jan 1, 1980'); "
            f"as seconds it is {_date(ts * 1000)}",
            path=path,
            hint="Inngest wants milliseconds: multiply by 1000, or drop the '/ 1000' from "
                 "Math.floor(new Date(…).getTime() / 1000)")]
    if not MIN_TS_MS <= ts <= MAX_TS_MS:
        return [finding("ts-out-of-range",
                        f"ts {ts} is {_date(ts)} as milliseconds; Inngest accepts only "
                        "Jan 1, 1980 to Jan 1, 2100",
                        path=path, hint="use new Date(webhook.payload.timestamp).getTime()")]
    if ts > now_ms + FUTURE_TOLERANCE_MS:
        return [finding("ts-future",
                        f"ts {ts} is {_date(ts)}, in the future: runs wait until then",
                        path=path, hint="use the Dodo event time, not a future date")]
    return []


def _check_strings(event: dict[str, Any], prefix: str) -> list[Finding]:
    findings: list[Finding] = []
    event_id = event.get("id")
    if event_id is not None and not isinstance(event_id, str):
        findings.append(finding("id-not-string", f"id is {describe(event_id)}, not a string",
                                path=f"{prefix}/id", hint="use String(…) or a template string"))
    elif not event_id:
        findings.append(finding(
            "id-missing", "the event has no id: retries and replays run your functions again",
            path=f"{prefix}/id",
            hint="e.g. id: `${webhook.eventType}:${p.payment_id}:${webhook.payload.timestamp}`"))
    version = event.get("v")
    if version is not None and not isinstance(version, str):
        findings.append(finding("v-not-string", f"v is {describe(version)}, not a string",
                                path=f"{prefix}/v", hint='e.g. v: "2024-01-14.1"'))
    return findings


def _check_user_and_meta(event: dict[str, Any], prefix: str) -> list[Finding]:
    findings: list[Finding] = []
    user = event.get("user")
    if user is not None:
        if not isinstance(user, dict):
            findings.append(finding("user-not-object", f"user is {describe(user)}, not an object",
                                    path=f"{prefix}/user", hint="drop user; put it in data"))
        else:
            findings.append(finding("user-deprecated", "the user field is deprecated",
                                    path=f"{prefix}/user",
                                    hint="move these fields into data"))
    meta = event.get("meta")
    if meta is not None:
        problem = _meta_problem(meta)
        if problem:
            findings.append(finding("meta-invalid", problem, path=f"{prefix}/meta",
                                    hint="meta.sessions: up to 5 {key: string|number|null}"))
    return findings


def _meta_problem(meta: Any) -> str:
    if not isinstance(meta, dict):
        return f"meta is {describe(meta)}, not an object"
    sessions = meta.get("sessions")
    if sessions is None:
        return ""
    if not isinstance(sessions, dict):
        return f"meta.sessions is {describe(sessions)}, not an object"
    if len(sessions) > MAX_SESSIONS:
        return f"meta.sessions has {len(sessions)} entries; at most {MAX_SESSIONS}"
    for key, value in sessions.items():
        if not key:
            return "meta.sessions has an empty key"
        if isinstance(value, bool) or not isinstance(value, (str, int, float, type(None))):
            return f"meta.sessions.{key} is {describe(value)}; use a string, number or null"
    return ""


def _check_text(event: dict[str, Any], prefix: str) -> list[Finding]:
    """The event as Inngest reads it: its size, and strings holding a lone UTF-16 surrogate
    (JSON can escape one, "\\ud83d"; Inngest's Go decoder turns it into U+FFFD)."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    try:
        size = len(text.encode("utf-8"))
        findings = []
    except UnicodeEncodeError:
        size = len(text.encode("utf-8", "surrogatepass"))  # 3 bytes each, as U+FFFD
        findings = _check_surrogates(event, prefix)
    return findings + _check_size(size, prefix)


def _check_surrogates(event: dict[str, Any], prefix: str) -> list[Finding]:
    found: list[tuple[str, str, str]] = []
    _find_surrogates(event, prefix, found)
    findings = [finding(
        "lone-surrogate",
        f"the {what} at {path or '/'} holds a lone UTF-16 surrogate (\\u{ord(char):04x}); "
        "Inngest's decoder replaces it with U+FFFD",
        path=path, hint="a string cut in the middle of an emoji or another character "
                        "outside the BMP: cut by code points, "
                        "e.g. Array.from(s).slice(0, n).join('')")
        for what, path, char in found[:MAX_SURROGATE_FINDINGS]]
    if len(found) > MAX_SURROGATE_FINDINGS:
        last = findings[-1]
        more = len(found) - MAX_SURROGATE_FINDINGS
        findings[-1] = dataclasses.replace(
            last, message=f"{last.message} ({more} more in this event)")
    return findings


def _find_surrogates(value: Any, path: str, found: list[tuple[str, str, str]]) -> None:
    """(key or string, JSON pointer, the first lone surrogate) of each, in document order."""
    if isinstance(value, str):
        match = _SURROGATE.search(value)
        if match:
            found.append(("string", path, match.group()))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_surrogates(item, f"{path}/{index}", found)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
            match = _SURROGATE.search(key)
            if match:
                found.append(("key", where, match.group()))
            _find_surrogates(item, where, found)


def _check_size(size: int, prefix: str) -> list[Finding]:
    if size > MAX_EVENT_BYTES:
        return [finding("event-too-large",
                        f"the event is {size:,} bytes; Inngest accepts at most {MAX_EVENT_BYTES:,}",
                        path=prefix, hint="send ids and fetch the details in the function")]
    if size > FREE_PLAN_EVENT_BYTES:
        return [finding("event-over-free-limit",
                        f"the event is {size:,} bytes; the Free plan accepts at most "
                        f"{FREE_PLAN_EVENT_BYTES:,}", path=prefix,
                        hint="fine on paid plans; trim data to stay under 256 KiB")]
    return []


def _where(prefix: str) -> str:
    return f"the payload at {prefix}" if prefix else "the payload"


def _date(ms: int) -> str:
    """An ISO date for a millisecond timestamp, or a plain range note when out of range."""
    try:
        when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "out of any calendar range"
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
