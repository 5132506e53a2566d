"""The rule catalogue: stable codes, severities and explanations, and the Finding type."""

from __future__ import annotations

import dataclasses
import difflib
import enum

from .errors import InputError


class Severity(str, enum.Enum):
    """How much a finding matters: errors fail a run, warnings fail it only with --strict."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule: its code, severity, one-line summary, longer explanation and an example fix."""

    code: str
    severity: Severity
    group: str
    summary: str
    explanation: str
    example: str = ""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing a check found: a rule code, a message, a JSON-pointer path and a hint."""

    code: str
    severity: Severity
    message: str
    path: str = ""
    hint: str = ""
    line: int | None = None
    """Line in the transform file (or in `file`), when the finding points at one."""
    file: str = ""
    """The file the finding points at when it is not the transform: a function's source."""

    def file_of(self, transform: str) -> str:
        """The file the finding points at: its own (a function's source), else the
        transform's."""
        return self.file or transform

    def to_json(self) -> dict[str, str]:
        """The finding as the JSON report shows it."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "hint": self.hint,
        }


def fails(findings: list[Finding], *, strict: bool) -> bool:
    """Whether findings fail a result: an error, or with strict a warning too."""
    failing = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    return any(f.severity in failing for f in findings)


def finding(code: str, message: str, *, path: str = "", hint: str = "",
            line: int | None = None, file: str = "") -> Finding:
    """Make a finding for a catalogued rule, with the rule's severity."""
    return Finding(code, RULES[code].severity, message, path, hint, line, file)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

_CATALOGUE = [
    # -- the transform --------------------------------------------------------------------
    Rule("js-syntax", E, "transform", "The transform does not compile.",
         "QuickJS could not parse the file. Dodo refuses to save such code: 'syntax errors will "
         "block delivery'. The finding carries the line and column of the first error.",
         "function handler(webhook) {\n  return webhook  // a missing brace was here\n}"),
    Rule("js-no-handler", E, "transform", "The transform defines no `handler` function.",
         "Dodo (like Svix) calls a global function named `handler` with the webhook object. "
         "A file that defines another name, or assigns `handler` to a non-function, never runs.",
         "function handler(webhook) {\n  return webhook;\n}"),
    Rule("js-exception", E, "transform", "The handler threw an exception.",
         "The handler threw while running on this payload. In production the delivery fails "
         "and Dodo retries it. Often a field that is null or absent in some payloads "
         "(`payload.data.customer` on a dispute, `payment_method` on a failed payment).",
         "const email = webhook.payload.data.customer?.email ?? null;"),
    Rule("js-timeout", E, "transform", "The handler ran past the time limit (default 100 ms).",
         "A loop that never ends, a promise that never settles, or a timer set past the limit. "
         "The limit is the open-source Svix Bridge's; Dodo's hosted limit is not published.",
         "for (const item of webhook.payload.data.product_cart ?? []) { /* bounded */ }"),
    Rule("js-memory", E, "transform", "The handler ran past the memory limit (default 25 MiB).",
         "The script allocated more than the sandbox allows: usually an array or string grown "
         "in a loop that does not end.",
         ""),
    Rule("js-no-output", E, "transform", "The handler returned nothing (undefined or null).",
         "The handler must return the webhook object, changed or not. A missing `return` on one "
         "branch is the usual cause.",
         "function handler(webhook) {\n  if (webhook.eventType === 'payment.succeeded') {\n"
         "    webhook.payload = { /* … */ };\n  }\n  return webhook;  // on every path\n}"),
    Rule("js-not-object", E, "transform", "The handler returned something other than an object.",
         "The handler must return the webhook object; a string, number, boolean or array is "
         "rejected ('transformer output was not a JSON object').",
         "return webhook;  // not webhook.payload, not JSON.stringify(webhook)"),
    Rule("method-invalid", E, "transform", "`webhook.method` is not \"POST\" or \"PUT\".",
         "Dodo sends the delivery with the returned method; the only valid values are \"POST\" "
         "and \"PUT\", in capitals.",
         "webhook.method = \"POST\";"),
    Rule("url-invalid", E, "transform", "`webhook.url` is not an absolute http(s) URL.",
         "The handler may redirect a delivery by changing `webhook.url`, but the value must be "
         "an absolute http:// or https:// URL.",
         "webhook.url = \"https://inn.gs/e/\" + webhook.env.EVENT_KEY;"),
    Rule("headers-invalid", E, "transform", "`webhook.headers` is not a valid set of headers.",
         "Headers set by the handler override the endpoint's headers; each name must be an "
         "HTTP token, each value a string of printable ASCII (HTTP carries nothing else "
         "safely), and the headers that frame the request (content-length, transfer-encoding, "
         "host, connection) are the sender's to set, not the transform's.",
         "webhook.headers = { \"x-inngest-env\": \"staging\" };"),
    Rule("code-too-long", E, "transform", "The transform is longer than 51,200 characters.",
         "The Dodo/Svix API refuses transformation code longer than 51,200 characters. Move "
         "lookup tables out of the code or shorten them.",
         ""),
    Rule("passthrough", E, "transform", "The payload is still the raw Dodo body.",
         "The handler returned the Dodo body unchanged, so Inngest receives "
         "{business_id, type, timestamp, data}: it has no `name`, and Inngest rejects it with "
         "400 'event name is empty'. Either shape an event for this type, cancel the delivery "
         "for types you do not handle, or filter the endpoint's event types in Dodo.",
         "if (!webhook.eventType.startsWith(\"payment.\")) {\n  webhook.cancel = true;\n"
         "  return webhook;\n}"),
    Rule("json-lossy", W, "transform", "A value was lost in the JSON round trip.",
         "The result is serialised with JSON.stringify: `undefined` properties vanish and NaN "
         "or Infinity become null. Usually a field read from the wrong place "
         "(`p.customer.phone` instead of `p.customer.phone_number`) or arithmetic on one.",
         "amount: p.total_amount ?? 0"),
    Rule("url-changed", INFO, "transform", "The handler changed the delivery URL.",
         "The delivery goes to the URL the handler set, not to the endpoint's URL.", ""),
    Rule("url-offsite", E, "transform", "The handler sends the delivery to another target.",
         "When dodo-inngest sends (send, replay, listen --forward), it sends only to the target "
         "you chose: a handler that points `webhook.url` at another scheme, host, port or "
         "path (another event key) would take the event, and perhaps a key, elsewhere. Test "
         "such a transform with `test`/`run`, where nothing is sent.",
         "webhook.url = webhook.url;  // keep the endpoint's URL"),
    Rule("cancelled", INFO, "transform", "The handler cancelled the delivery.",
         "`webhook.cancel = true`: nothing is sent, and Dodo shows the message as a successful "
         "dispatch.", ""),
    # -- the Inngest event contract -------------------------------------------------------
    Rule("payload-not-event", E, "inngest",
         "The payload is not an event object or an array of them.",
         "Inngest's /e/{key} endpoint accepts one event object or an array of event objects; "
         "anything else gets 400 'Request body must contain an event object or an array of "
         "event objects'.",
         "webhook.payload = { name: \"dodo/payment.succeeded\", data: { /* … */ } };"),
    Rule("name-missing", E, "inngest", "The event has no `name` (or it is not a string).",
         "Inngest rejects an event without a name: 400 'event name is empty'.",
         "name: \"dodo/\" + webhook.eventType"),
    Rule("name-reserved", E, "inngest", "The event name starts with `inngest/`.",
         "Names starting with `inngest/` (in any case) are reserved for Inngest's internal "
         "events: 400 'event name is reserved for internal use'.",
         "name: \"dodo/payment.succeeded\""),
    Rule("name-too-long", E, "inngest", "The event name is longer than 255 characters.",
         "Function triggers cannot name events longer than 255 characters, so no function "
         "could run on it.", ""),
    Rule("data-not-object", E, "inngest", "`data` is not a JSON object.",
         "Inngest decodes `data` into an object; an array, string or number fails with 400.",
         "data: { payment_id: p.payment_id }"),
    Rule("ts-not-integer", E, "inngest", "`ts` is not an integer.",
         "`ts` is an integer number of milliseconds since the Unix epoch; a fraction or a "
         "string fails with 400.",
         "ts: new Date(webhook.payload.timestamp).getTime()"),
    Rule("ts-in-seconds", E, "inngest", "`ts` is in seconds; Inngest wants milliseconds.",
         "Inngest reads `ts` as milliseconds, so a Unix time in seconds means a date in "
         "January 1970, and Inngest rejects it: 400 'timestamp is before Jan 1, 1980'. "
         "Dodo's published Inngest examples make exactly this mistake "
         "(`Math.floor(new Date(…).getTime() / 1000)`).",
         "ts: new Date(webhook.payload.timestamp).getTime()  // no / 1000"),
    Rule("ts-out-of-range", E, "inngest", "`ts` is before 1980 or from 2100 on, in milliseconds.",
         "Inngest rejects timestamps before Jan 1, 1980 and after Jan 1, 2100.",
         "ts: new Date(webhook.payload.timestamp).getTime()"),
    Rule("id-not-string", E, "inngest", "`id` is not a string.",
         "Inngest decodes `id` as a string; a number fails with 400.",
         "id: String(p.payment_id)"),
    Rule("v-not-string", E, "inngest", "`v` is not a string.",
         "The event version `v` is a free-form string, such as \"2024-01-14.1\".",
         "v: \"2024-01-14.1\""),
    Rule("user-not-object", E, "inngest", "`user` is not an object.",
         "The deprecated `user` field must be an object when present.", ""),
    Rule("meta-invalid", E, "inngest", "`meta.sessions` is malformed.",
         "`meta.sessions` holds at most 5 entries with non-empty keys and string, number or "
         "null values.", ""),
    Rule("event-too-large", E, "inngest", "The event is larger than 3 MiB.",
         "Inngest refuses events over 3 MiB: 'Event is over the max size'. Send ids and fetch "
         "the rest in the function.", ""),
    Rule("batch-empty", E, "inngest", "The payload is an empty array.",
         "An empty array sends no event; Inngest answers 200 with a meaningless id.", ""),
    Rule("batch-too-large", E, "inngest", "The payload holds more than 5,000 events.",
         "Inngest refuses more than 5,000 events in one request: 'Cannot have more than 5000 "
         "events in a batch'.", ""),
    Rule("event-over-free-limit", W, "inngest", "The event is larger than 256 KiB.",
         "Inngest's Free plan refuses events over 256 KiB; paid plans allow up to 3 MiB.", ""),
    Rule("id-missing", W, "inngest", "The event has no `id`.",
         "Without an `id`, Dodo's retries and any replay run your Inngest functions again. "
         "Inngest skips runs for an `id` it saw in the last 24 hours, so build one from the "
         "event type, the Dodo object id and the Dodo timestamp.",
         "id: `${webhook.eventType}:${p.payment_id}:${webhook.payload.timestamp}`"),
    Rule("ts-future", W, "inngest", "`ts` is in the future.",
         "Inngest schedules the runs of an event with a future `ts` to start at that time, so "
         "functions are delayed.", ""),
    Rule("data-missing", W, "inngest", "The event has no `data` (or it is null).",
         "Inngest accepts it and passes `{}` to your functions, which is rarely what you want.",
         "data: { payment_id: p.payment_id }"),
    Rule("data-reserved-key", W, "inngest", "`data._inngest` is set; Inngest strips it.",
         "Inngest deletes the `_inngest` key from `data` on receipt.", ""),
    Rule("user-deprecated", W, "inngest", "The event uses the deprecated `user` field.",
         "Inngest still accepts `user` but recommends putting user fields in `data` "
         "(with encryption middleware for personal data).",
         "data: { customer_email: p.customer.email }"),
    Rule("lone-surrogate", W, "inngest", "A string holds a lone UTF-16 surrogate.",
         "Half of a character outside the Basic Multilingual Plane (an emoji, say), usually "
         "left by cutting a string by UTF-16 units: `name.slice(0, 1)` of \"😀abc\". JSON "
         "can carry it escaped (`\"\\ud83d\"`), but Inngest's decoder replaces it with "
         "U+FFFD, so functions receive a different string.",
         "const short = Array.from(name).slice(0, 20).join(\"\");"),
    # -- expectations -------------------------------------------------------------------------
    Rule("schema-mismatch", E, "expect", "The event's data does not match its JSON Schema.",
         "The schema for this event name (in --schemas DIR) rejects what the transform sends: "
         "a missing field, a wrong type. The finding names the JSON path and the schema's "
         "message.", ""),
    Rule("snapshot-mismatch", E, "expect", "The request differs from its snapshot.",
         "The outgoing request (method, URL, headers, payload) is not what the snapshot in "
         "--snapshots DIR recorded. The finding lists the JSON paths added, removed and changed; "
         "--update-snapshots records the new request when the change is intended.", ""),
    Rule("snapshot-missing", W, "expect", "No snapshot was recorded for this pair yet.",
         "Run with --update-snapshots to record the current request as the expected one.", ""),
    Rule("no-trigger", E, "expect", "The event triggers none of the declared functions.",
         "No trigger in --triggers FILE matches the event name (exactly, or with a wildcard "
         "after '/' or '.', anchored at the start) and passes its expression, so no Inngest "
         "function would run. `payment.*` does not match `dodo/payment.succeeded`.",
         "[[triggers]]\nfunction = \"fulfil-order\"\nevent = \"dodo/payment.*\""),
    Rule("trigger-unknown", W, "expect", "A trigger's expression could not be evaluated.",
         "The event name matches, but its CEL expression could not be evaluated here (a field "
         "it reads is absent, or a function the library lacks), so whether the function runs "
         "is unknown.", ""),
    # -- the project's own Inngest functions (--functions) -----------------------------------
    Rule("function-failed", E, "functions", "An Inngest function the event triggers failed.",
         "With --functions, every function the event triggers runs on it, offline, as the "
         "official SDK's test tools run it (Python: inngest.experimental.mocked; "
         "TypeScript: @inngest/test). This one raised or threw, or returned a value that is "
         "not JSON. The finding points at the function's own line; the result shows its "
         "traceback and what it printed. Each function runs once (no retries).",
         "amount = ctx.event.data.get(\"total_amount\", 0)"),
    Rule("function-timeout", E, "functions", "An Inngest function ran past its time limit.",
         "A function the event triggers did not finish within [functions] timeout seconds "
         "(default 5) and was stopped; the next run starts afresh. A loop that never ends, or "
         "a call waiting on a network that is not there. step.sleep and wait_for_event never "
         "wait here.", "[tool.dodo-inngest.functions]\ntimeout = 15"),
    Rule("no-function-triggered", W, "functions",
         "The event triggers none of the project's functions.",
         "With --functions, no function's trigger matches the event name (exactly, or with a "
         "wildcard after '/' or '.') and passes its `if` expression, so Inngest would store "
         "the event and run nothing. List event names nothing should handle in [functions] "
         "unhandled-events to silence this; --strict makes it fail.",
         "[tool.dodo-inngest.functions]\nunhandled-events = [\"dodo/dispute.*\"]"),
    Rule("function-not-triggered", E, "functions",
         "A function the configuration says the event must reach did not run.",
         "[functions.must-reach] names functions that events matching a pattern must trigger; "
         "this one's triggers do not match the event, or its `if` expression is false for it. "
         "The finding says which.",
         "[tool.dodo-inngest.functions.must-reach]\n\"dodo/payment.succeeded\" = "
         "[\"fulfil-order\"]"),
    # -- the Dodo input ---------------------------------------------------------------------
    Rule("dodo-unknown-type", W, "dodo", "The payload's event type is not one Dodo sends.",
         "The body's `type` is not among the event types of the official `dodopayments` SDK. "
         "A typo in a hand-written sample, or a type newer than the installed SDK "
         "(`pip install -U dodopayments`).", ""),
    Rule("dodo-schema", W, "dodo", "The payload does not match the official Dodo model.",
         "The body differs from the `dodopayments` SDK's model for its type: a missing field, "
         "a number where the SDK types a string. Real traffic sometimes deviates, so this never "
         "blocks; make sure the transform handles what was found. `--no-dodo-check` skips it.",
         ""),
    Rule("name-style", INFO, "inngest",
         "The event name does not follow Inngest's naming advice.",
         "Inngest recommends lowercase, provider-prefixed, past-tense names such as "
         "`dodo/payment.succeeded`, so that Dodo events do not collide with your own.",
         "name: \"dodo/\" + webhook.eventType"),
]

RULES: dict[str, Rule] = {rule.code: rule for rule in _CATALOGUE}


def check_codes(codes: list[str], *, source: str = "") -> list[str]:
    """Return the codes unchanged, or raise naming the first unknown one (and where it was)."""
    for code in codes:
        if code not in RULES:
            close = difflib.get_close_matches(code, RULES, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            where = f" in {source}" if source else ""
            raise InputError(f"unknown rule code '{code}'{where}",
                             hint=f"{hint}'dodo-inngest rules' lists every code")
    return codes
