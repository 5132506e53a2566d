"""The QuickJS sandbox: runs a Dodo (Svix-style) transformation exactly as production would.

Each delivery runs in a fresh QuickJS context with a memory limit, a stack limit and a time
budget, so nothing one delivery leaves in globals reaches the next, and a runaway script ends
in a finding instead of taking the process down.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import quickjs

from .errors import InputError
from .models import ConsoleLine, OutgoingRequest, TransformResult, TransformStatus, Webhook
from .rules import Finding, finding

MAX_CODE_CHARS = 51_200
"""The Dodo/Svix API refuses transformation code longer than this."""

DEFAULT_ENDPOINT_URL = "https://inn.gs/e/local-test-key"
"""The endpoint URL a transform sees when none is configured."""

# The harness every run evaluates first. Kept small: QuickJS parses it for every delivery (a
# fresh context each time), and its cost is most of the sandbox's. Pieces only some runs need
# (timers firing, finding the path of a lost value) are evaluated on demand.
# Console and timers are compiled only when a script touches them: their source travels as a
# string (cheap to read) and a getter on the global evaluates it on first use.
_CONSOLE = r"""
function __dodo_text(v) {
  if (typeof v === "string") return v;
  try { var t = typeof v === "object" && !(v instanceof Error) && JSON.stringify(v); }
  catch (e) {}
  return typeof t === "string" ? t : String(v);
}
function __dodo_log(level) {
  if (__dodo_console.length < 1000) __dodo_console.push([level,
    Array.prototype.slice.call(arguments, 1).map(__dodo_text).join(" ").slice(0, 10000)]);
}
globalThis.console = { log: __dodo_log.bind(null, "log"), info: __dodo_log.bind(null, "info"),
  warn: __dodo_log.bind(null, "warn"), error: __dodo_log.bind(null, "error"),
  debug: __dodo_log.bind(null, "debug") };
"""

_SET_TIMERS = r"""
globalThis.setTimeout = function __dodo_set_timeout(fn, delay) {
  __dodo_timers.push({ id: ++__dodo_seq, due: __dodo_clock + Math.max(4, +delay || 0),
                       fn: fn, args: Array.prototype.slice.call(arguments, 2) });
  return __dodo_seq;
};
globalThis.clearTimeout = function __dodo_clear_timeout(id) {
  __dodo_timers = __dodo_timers.filter(function __dodo_other(t) { return t.id !== id; });
};
"""

# Evaluated (as an expression) only when a run failed: what was thrown, for the report.
_DESCRIBE = r"""
(typeof console, __dodo_thrown instanceof Error
  ? { name: __dodo_thrown.name, message: String(__dodo_thrown.message),
      stack: String(__dodo_thrown.stack || "") }
  : { name: "", message: "uncaught " + __dodo_text(__dodo_thrown), stack: "" })
"""

_PRELUDE = r"""
var __dodo_console = [], __dodo_timers = [], __dodo_seq = 0, __dodo_clock = 0,
  __dodo_state = null, __dodo_value, __dodo_lost = false;
function __dodo_lazy(name, source) {
  Object.defineProperty(globalThis, name, { configurable: true,
    get: function __dodo_load() { delete globalThis[name]; (0, eval)(source);
                                  return globalThis[name]; },
    set: function __dodo_store(v) { Object.defineProperty(globalThis, name,
      { value: v, writable: true, configurable: true, enumerable: true }); } });
}
var __dodo_timers_source = TIMERS_SOURCE;
__dodo_lazy("console", CONSOLE_SOURCE);
__dodo_lazy("setTimeout", __dodo_timers_source);
__dodo_lazy("clearTimeout", __dodo_timers_source);
var __dodo_thrown, __dodo_describe = DESCRIBE_SOURCE;
function __dodo_fail(e) { __dodo_state = "error"; __dodo_thrown = e; }
function __dodo_settled(out) {
  if (out && typeof out.then === "function") {
    out.then(function __dodo_done(v) { __dodo_state = "done"; __dodo_value = v; }, __dodo_fail);
  } else { __dodo_state = "done"; __dodo_value = out; }
}
function __dodo_start(body, url, env, wrap) {
  var p = JSON.parse(body);
  try {
    var out = handler({ method: "POST", url: url, payload: wrap ? wrap(p) : p, env: JSON.parse(env),
      eventType: p && typeof p.type === "string" ? p.type : "", transformationsParams: {} });
  } catch (e) { return __dodo_fail(e); }
  __dodo_settled(out);
}
function __dodo_keep(key, v) {
  var raw = this[key];
  if (v === undefined || typeof v === "function" || typeof v === "number" && !isFinite(v)
      || raw instanceof Date && isNaN(raw)) __dodo_lost = true;
  return v;
}
function __dodo_finish(whole) {
  var v = __dodo_value, r = { state: __dodo_state, lost: false, console: __dodo_console,
    error: __dodo_state === "error" ? (0, eval)(__dodo_describe) : null,
    kind: v === null ? "null" : Array.isArray(v) ? "array" : typeof v };
  if (__dodo_state !== "done" || r.kind !== "object") return JSON.stringify(r);
  var o = whole ? v : { method: v.method, url: v.url, payload: v.payload };
  if (!whole && v.headers !== undefined) o.headers = v.headers;
  if (!whole && v.cancel !== undefined) o.cancel = v.cancel;
  try { var out = JSON.stringify(o, __dodo_keep); }
  catch (e) {
    __dodo_fail(e); r.state = "error"; r.error = (0, eval)(__dodo_describe);
    r.serialising = true;
    return JSON.stringify(r);
  }
  r.lost = __dodo_lost;
  // One document without escaping the payload twice (join: the binding cannot read ropes).
  return [JSON.stringify(r).slice(0, -1), ',"out":', out, "}"].join("");
}
""".replace("CONSOLE_SOURCE", json.dumps(re.sub(r"\n\s*", "\n", _CONSOLE))) \
    .replace("TIMERS_SOURCE", json.dumps(re.sub(r"\n\s*", "\n", _SET_TIMERS))) \
    .replace("DESCRIBE_SOURCE", json.dumps(re.sub(r"\n\s*", " ", _DESCRIBE)))

# Evaluated only by runs that track field reads: `__dodo_track(payload)` gives a proxy that
# records the JSON pointer of every payload field the handler reads (`*` for array items) until
# the handler's result settles; `JSON.stringify(__dodo_reads)` gives them in first-read order.
_TRACK_READS = r"""
var __dodo_reads = [];
function __dodo_track(root) {
  var proxies = new WeakMap(), seen = {};
  function note(path) {
    if (__dodo_state === null && !seen[path]) { seen[path] = true; __dodo_reads.push(path); }
  }
  function token(key) { return key.replace(/~/g, "~0").replace(/\//g, "~1"); }
  function wrap(value, path) {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    var list = Array.isArray(value);
    var proxy = new Proxy(value, {
      get: function __dodo_read(target, key, receiver) {
        var v = Reflect.get(target, key, receiver);
        if (typeof key !== "string" || __dodo_state !== null) return v;
        if (list ? !/^\d+$/.test(key) : typeof v === "function" && !Object.hasOwn(target, key))
          return v;  // length, methods
        var where = path + "/" + (list ? "*" : token(key));
        note(where);
        return wrap(v, where);
      },
      has: function __dodo_has(target, key) {
        if (typeof key === "string" && !list) note(path + "/" + token(key));
        return Reflect.has(target, key);
      },
      ownKeys: function __dodo_keys(target) { note(path); return Reflect.ownKeys(target); }
    });
    proxies.set(value, proxy);
    return proxy;
  }
  return wrap(root, "");
}
"""

# Evaluated by InngestTransform runs only.
_START_TRANSFORM = r"""
function __dodo_start_transform(argsJson) {
  try { var out = transform.apply(undefined, JSON.parse(argsJson)); }
  catch (e) { return __dodo_fail(e); }
  __dodo_settled(out);
}
"""

# Evaluated only when the handler's result is not settled right away (await, timers).
_TIMERS = r"""
function __dodo_next_timer() {
  if (__dodo_timers.length === 0) return -1;
  __dodo_timers.sort(function __dodo_order(a, b) { return a.due - b.due || a.id - b.id; });
  return __dodo_timers[0].due;
}
function __dodo_fire() {
  var timer = __dodo_timers.shift();
  __dodo_clock = timer.due;
  if (typeof timer.fn === "function") timer.fn.apply(undefined, timer.args);
}
"""

# Evaluated only when the JSON round trip lost a value: where each one was.
_LOSSY = r"""
function __dodo_lossy(value, path, seen, out) {
  if (out.length >= 20 || seen.length > 200) return;
  if (typeof value === "number") {
    if (!isFinite(value)) out.push([path, String(value) + " becomes null"]);
    return;
  }
  if (value === undefined) { out.push([path, "undefined becomes null"]); return; }
  if (typeof value === "function") { out.push([path, "a function becomes null"]); return; }
  if (value === null || typeof value !== "object" || seen.indexOf(value) >= 0) return;
  if (value instanceof Date) {
    if (isNaN(value.getTime())) out.push([path, "an Invalid Date becomes null"]);
    return;
  }
  seen.push(value);
  if (Array.isArray(value)) {
    for (var i = 0; i < value.length; i++) __dodo_lossy(value[i], path + "/" + i, seen, out);
  } else {
    var keys = Object.keys(value);
    for (var k = 0; k < keys.length; k++) {
      var child = value[keys[k]];
      var where = path + "/" + keys[k].replace(/~/g, "~0").replace(/\//g, "~1");
      if (child === undefined) out.push([where, "undefined: the property is dropped"]);
      else if (typeof child === "function") {
        out.push([where, "a function: the property is dropped"]);
      } else __dodo_lossy(child, where, seen, out);
    }
  }
  seen.pop();
}
function __dodo_lost_values(whole) {
  var out = [];
  __dodo_lossy(whole ? __dodo_value : __dodo_value.payload, "", [], out);
  return JSON.stringify(out);
}
"""

_FRAME = re.compile(r"^\s*at (?P<fn>\S+)")
_LOCATION = re.compile(r"<input>:(\d+)(?::(\d+))?")
_MAX_FRAMES = 8
_PARSE_ERROR = re.compile(r"^\s*at <input>:\d+")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Sandbox limits; defaults are the open-source Svix Bridge's (Dodo's are unpublished)."""

    time_ms: float = 100.0
    memory_bytes: int = 25 * 1024 * 1024
    stack_bytes: int = 1024 * 1024


class _Timeout(Exception):
    """The time budget of one run is spent."""


_S = TypeVar("_S", bound="_Script")


class _Script:
    """JavaScript code compiled once to check it, then run in a fresh context per call."""

    entry = "handler"
    entry_hint = "Dodo calls `function handler(webhook) { …; return webhook; }`"

    def __init__(self, code: str, path: str, *, limits: Limits | None = None) -> None:
        self.code = code
        self.path = path
        self.limits = limits or Limits()
        self.static_findings: list[Finding] = []
        self._load_error = self._probe()

    @classmethod
    def from_file(cls: type[_S], path: Path, **options: Any) -> _S:
        """Read the code from a file; an unreadable or non-UTF-8 file is an InputError."""
        try:
            code = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"{path}: no such transform file",
                             hint="check the path, or list transforms in the config") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not a transform file") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})",
                             hint="save the transform as UTF-8") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        return cls(code, str(path), **options)

    def _probe(self) -> TransformResult | None:
        """Compile the code once: syntax errors, top-level faults and a missing entry."""
        started = time.perf_counter()
        run = _Run(self)
        try:
            run.define()
            if run.context.eval(f"typeof {self.entry}") != "function":
                return run.error_result(started, finding(
                    "js-no-handler", f"the transform defines no function named `{self.entry}`",
                    hint=self.entry_hint))
        except _Timeout:
            return run.timeout_result(started, "while the top-level code ran")
        except quickjs.JSException as exc:
            return run.exception_result(started, str(exc), phase="define")
        return None


class Transform(_Script):
    """A Dodo transformation: `handler(webhook)` with Svix semantics."""

    def __init__(self, code: str, path: str, *, limits: Limits | None = None,
                 env: dict[str, str] | None = None,
                 endpoint_url: str = DEFAULT_ENDPOINT_URL,
                 endpoint_headers: dict[str, str] | None = None) -> None:
        self.env_json = json.dumps(env or {})
        self.endpoint_url = endpoint_url
        self.endpoint_headers = dict(endpoint_headers or {})
        super().__init__(code, path, limits=limits)
        if len(code) > MAX_CODE_CHARS:
            self.static_findings.append(finding(
                "code-too-long",
                f"the transform is {len(code):,} characters; Dodo accepts at most "
                f"{MAX_CODE_CHARS:,}",
                hint="move large tables out of the code or shorten it"))

    def with_endpoint(self, url: str) -> Transform:
        """The same code seeing another endpoint URL (the target of a send)."""
        return Transform(self.code, self.path, limits=self.limits,
                         env=json.loads(self.env_json), endpoint_url=url,
                         endpoint_headers=self.endpoint_headers)

    def run(self, webhook: Webhook, *, track_reads: bool = False) -> TransformResult:
        """Run the handler on one webhook in a fresh context; never raises for script faults.

        With track_reads, the handler sees the payload through a proxy and the result lists
        the payload fields it read (`reads`).
        """
        started = time.perf_counter()
        if self._load_error is not None:
            return dataclasses.replace(self._load_error, reads=()) if track_reads \
                else self._load_error
        run = _Run(self)

        run.input_bytes = len(webhook.body)

        def start() -> None:
            run.context.set("__dodo_body", webhook.body)
            run.context.set("__dodo_url", self.endpoint_url)
            run.context.set("__dodo_env", self.env_json)
            if track_reads:
                run.call(_TRACK_READS)
            wrap = ", __dodo_track" if track_reads else ""
            # One evaluation: the code keeps its line numbers, the call goes on a line after.
            run.call(self.code + f"\n;__dodo_start(__dodo_body, __dodo_url, __dodo_env{wrap})")

        report = run.execute(started, start, whole=False)
        result = report if isinstance(report, TransformResult) \
            else run.output_result(started, webhook, report)
        return dataclasses.replace(result, reads=run.reads()) if track_reads else result


DEFAULT_INNGEST_TRANSFORM = """\
// Inngest's default webhook transform, as its dashboard creates it.
function transform(evt, headers = {}, queryParams = {}, raw = "") {
  return {
    name: "webhook/request.received",
    data: evt,
  };
};
"""


class InngestTransform(_Script):
    """An Inngest webhook transform: `transform(evt, headers, queryParams, raw)` → event."""

    entry = "transform"
    entry_hint = "Inngest calls `function transform(evt, headers, queryParams, raw) { … }`"

    def apply(self, body: str, headers: dict[str, str], url: str) -> TransformResult:
        """The event Inngest would store for this request body; never raises for script faults."""
        started = time.perf_counter()
        if self._load_error is not None:
            return self._load_error
        run = _Run(self)
        try:
            evt = json.loads(body)
        except json.JSONDecodeError:
            evt = {}
        query = {key: [value] for key, value in
                 (part.split("=", 1) for part in urlsplit(url).query.split("&") if "=" in part)}
        canonical = {"-".join(w.capitalize() for w in name.split("-")): value
                     for name, value in headers.items()}
        arguments = json.dumps([evt, canonical, query, body])

        def start() -> None:
            run.define()
            run.context.set("__dodo_args", arguments)
            run.call(_START_TRANSFORM)
            run.call("__dodo_start_transform(__dodo_args)")

        report = run.execute(started, start, whole=True)
        if isinstance(report, TransformResult):
            return report
        return run.event_result(started, url, report)


class _Run:
    """One run of a transform in its own QuickJS context."""

    def __init__(self, transform: _Script) -> None:
        self.transform = transform
        limits = transform.limits
        self.context = quickjs.Context()
        self.context.set_memory_limit(limits.memory_bytes)
        self.context.set_max_stack_size(limits.stack_bytes)
        self.context.eval(_PRELUDE)
        self.budget_s = limits.time_ms / 1000.0
        self.used_s = 0.0
        self.virtual_ms = 0.0
        self.console: list[ConsoleLine] = []
        self.input_bytes = 0
        """The size of what the call is given, to explain running out of memory."""

    def call(self, source: str) -> Any:
        """Evaluate source with whatever remains of the time budget."""
        return self._budgeted(self.context.eval, source)

    def job(self) -> bool:
        """Run one pending promise job within the time budget."""
        return bool(self._budgeted(self.context.execute_pending_job))

    def _budgeted(self, step: Callable[..., Any], *args: Any) -> Any:
        """Run one step of JS with the rest of the time budget; running out is _Timeout."""
        remaining = self.budget_s - self.used_s - self.virtual_ms / 1000.0
        if remaining <= 0:
            raise _Timeout
        self.context.set_time_limit(remaining)
        started = time.perf_counter()
        try:
            return step(*args)
        except quickjs.JSException as exc:
            if str(exc).startswith("InternalError: interrupted"):
                raise _Timeout from None
            raise
        finally:
            self.used_s += time.perf_counter() - started

    def define(self) -> None:
        """Evaluate the transform's own code (defines `handler`)."""
        self.call(self.transform.code)

    def execute(self, started: float, start: Callable[[], None], *,
                whole: bool) -> TransformResult | dict[str, Any]:
        """Start the call (start also evaluates the code), settle promises and timers; the
        script's report, or a finished result when it could not run to the end."""
        try:
            start()
            raw = self.settle(whole)
            lost = None
            if raw.startswith('{"state":"done","lost":true'):  # the first keys
                self.call(_LOSSY)
                lost = self.call(f"__dodo_lost_values({'true' if whole else 'false'})")
        except _Timeout:
            self.read_console()
            return self.timeout_result(started, f"while `{self.transform.entry}` ran")
        except quickjs.JSException as exc:
            self.read_console()
            return self.exception_result(started, str(exc), phase="run")
        try:
            report: dict[str, Any] = json.loads(raw)
        except RecursionError:
            return self.result(started, TransformStatus.ERROR, [finding(
                "js-not-object", "the returned object is nested too deeply to send as JSON",
                hint="flatten the payload")])
        report["lossy"] = json.loads(lost) if lost else []
        self.console = [ConsoleLine(level, text) for level, text in report["console"]]
        if report["state"] == "error":
            error = report["error"]
            message = f"{error['name']}: {error['message']}" if error["name"] else error["message"]
            if report.get("serialising"):
                message = f"the result cannot be serialised to JSON: {message}"
            return self.exception_result(started, message + "\n" + error["stack"], phase="run")
        if report["kind"] in ("undefined", "null"):
            return self.result(started, TransformStatus.ERROR, [finding(
                "js-no-output", f"`{self.transform.entry}` returned {report['kind']}",
                hint="return the object on every path")])
        if report["kind"] != "object":
            return self.result(started, TransformStatus.ERROR, [finding(
                "js-not-object",
                f"`{self.transform.entry}` returned {_a(report['kind'])}, not an object",
                hint="return an object: the webhook (Dodo) or the event (Inngest)")])
        report["value"] = report.pop("out")
        return report

    def settle(self, whole: bool) -> str:
        """Run promise jobs, then timers, until the result is settled; the finish report."""
        timers_loaded = False
        while True:
            while self.job():
                pass
            raw: str = self.call(f"__dodo_finish({'true' if whole else 'false'})")
            if not raw.startswith('{"state":null'):  # state is the first key
                return raw
            if not timers_loaded:
                self.call(_TIMERS)
                timers_loaded = True
            due = self.context.eval("__dodo_next_timer()")
            if due < 0:
                raise _Timeout  # a promise that never settles: production times out too
            self.virtual_ms = max(self.virtual_ms, float(due))
            self.call("__dodo_fire()")

    def reads(self) -> tuple[str, ...]:
        """The payload fields a tracked run read, if the context can still answer."""
        try:
            self.context.set_time_limit(-1)
            return tuple(json.loads(self.context.eval("JSON.stringify(__dodo_reads)")))
        except quickjs.JSException:
            return ()

    def read_console(self) -> None:
        """Fetch what the script logged, if the context can still answer."""
        try:
            self.context.set_time_limit(-1)
            lines = json.loads(self.context.eval("JSON.stringify(__dodo_console)"))
            self.console = [ConsoleLine(level, text) for level, text in lines]
        except quickjs.JSException:
            self.console = []

    # -- results --------------------------------------------------------------------------

    def result(self, started: float, status: TransformStatus, findings: list[Finding],
               request: OutgoingRequest | None = None, stack: str = "") -> TransformResult:
        """Assemble a TransformResult with the transform's static findings first."""
        return TransformResult(
            status=status, request=request,
            findings=[*self.transform.static_findings, *findings],
            console=self.console,
            duration_ms=(time.perf_counter() - started) * 1000.0, stack=stack)

    def error_result(self, started: float, error: Finding, stack: str = "") -> TransformResult:
        """A run that could not get to the end."""
        return self.result(started, TransformStatus.ERROR, [error], stack=stack)

    def timeout_result(self, started: float, when: str) -> TransformResult:
        """The time budget ran out."""
        limit = self.transform.limits.time_ms
        return self.error_result(started, finding(
            "js-timeout", f"the transform ran past the {limit:g} ms time limit {when}",
            hint="look for a loop that never ends, a promise that never settles, or a long "
                 "setTimeout; --time-limit changes the limit"))

    def exception_result(self, started: float, text: str, *, phase: str) -> TransformResult:
        """Classify a JS error: syntax, memory, or an exception, with its line."""
        first, _, rest = text.partition("\n")
        path = self.transform.path
        line, column, stack = _locate(rest, path, phase=phase)
        where = f"{path}:{line}" + (f":{column}" if column else "") if line else path
        if "out of memory" in first:
            mib = self.transform.limits.memory_bytes / (1024 * 1024)
            if self.input_bytes * 4 >= self.transform.limits.memory_bytes:
                size = self.input_bytes / (1024 * 1024)
                return self.error_result(started, finding(
                    "js-memory", f"the payload ({size:.1f} MiB) does not fit in the {mib:g} "
                                 "MiB memory limit once parsed",
                    hint="real Dodo payloads are a few KiB; if this one is real, raise "
                         "--memory-limit", line=line), stack)
            return self.error_result(started, finding(
                "js-memory", f"the transform ran past the {mib:g} MiB memory limit",
                hint="look for an array or string grown in a loop that does not end; "
                     "--memory-limit changes the limit", line=line), stack)
        if first.startswith("SyntaxError") and phase == "define" and _PARSE_ERROR.match(rest):
            return self.error_result(started, finding(
                "js-syntax", f"{where}: {first}",
                hint="fix the syntax; Dodo refuses to save code that does not compile",
                line=line), stack)
        hint = "guard fields that may be null or absent (?. and ??)"
        if "Maximum call stack size exceeded" in first:
            hint = "a recursion that never ends? the stack limit is " \
                   f"{self.transform.limits.stack_bytes // 1024} KiB"
        return self.error_result(started, finding(
            "js-exception", f"{where}: {first}", hint=hint, line=line), stack)

    def event_result(self, started: float, url: str,
                     report: dict[str, Any]) -> TransformResult:
        """The event an Inngest webhook transform returned, as the request Inngest stores."""
        findings = _lossy(report, "event")
        request = OutgoingRequest(method="POST", url=url, headers={}, payload=report["value"])
        return self.result(started, TransformStatus.OK, findings, request)

    def output_result(self, started: float, webhook: Webhook,
                      report: dict[str, Any]) -> TransformResult:
        """Check what the handler returned and build the outgoing request."""
        assert isinstance(self.transform, Transform)
        out = report["value"]
        findings = _lossy(report, "payload")
        method = out.get("method", "POST")
        if method not in ("POST", "PUT"):
            findings.append(finding(
                "method-invalid", f"method is {json.dumps(method)}; Dodo sends only POST or PUT",
                path="", hint='set webhook.method to "POST" or "PUT" (capitals)'))
        url = out.get("url")
        if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
            findings.append(finding(
                "url-invalid", f"url is {json.dumps(url)}, not an absolute http(s) URL",
                hint="leave webhook.url alone, or set a full https:// URL"))
            url = self.transform.endpoint_url
        elif url != self.transform.endpoint_url:
            findings.append(finding("url-changed", f"the delivery goes to {url}"))
        headers = dict(self.transform.endpoint_headers)
        if "headers" in out:
            given = out.get("headers")
            if isinstance(given, dict) and all(isinstance(v, str) for v in given.values()):
                headers.update(given)
            else:
                findings.append(finding(
                    "headers-invalid", "headers must be an object whose values are strings",
                    hint='webhook.headers = { "x-name": "value" }'))
        payload = out.get("payload")
        request = OutgoingRequest(method=str(method), url=url, headers=headers, payload=payload)
        if out.get("cancel") is True:
            findings.append(finding("cancelled", "the handler cancelled this delivery"))
            return self.result(started, TransformStatus.CANCELLED, findings, request)
        if payload == webhook.payload:
            findings.append(finding(
                "passthrough",
                f"the payload is the raw Dodo '{webhook.event_type}' body; Inngest rejects it "
                "(no event name)",
                hint="shape an event for this type, set webhook.cancel = true for types you "
                     "do not handle, or filter the endpoint's event types"))
        return self.result(started, TransformStatus.OK, findings, request)


def _lossy(report: dict[str, Any], what: str) -> list[Finding]:
    """json-lossy findings for the values the JSON round trip lost."""
    return [finding("json-lossy", f"{what}{path or ' (root)'}: {lost}", path=path,
                    hint="check the field is read from the right place")
            for path, lost in report["lossy"]]


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _locate(stack: str, path: str, *, phase: str) -> tuple[int | None, int | None, str]:
    """The first user frame's line and column, and the stack with harness frames removed."""
    kept: list[str] = []
    line: int | None = None
    column: int | None = None
    for raw in stack.splitlines():
        match = _FRAME.match(raw)
        if match is None or match.group("fn").startswith("__dodo") or "(native)" in raw:
            continue
        if phase == "run" and (match.group("fn") == "<eval>" or _PARSE_ERROR.match(raw)):
            continue  # the harness's calls into the handler; JSON.parse's text position
        location = _LOCATION.search(raw)
        if location and line is None:
            line = int(location.group(1))
            column = int(location.group(2)) if location.group(2) else None
        kept.append(raw.replace("<input>", path))
    if len(kept) > _MAX_FRAMES:
        kept = [*kept[:_MAX_FRAMES], f"    … {len(kept) - _MAX_FRAMES} more frames"]
    return line, column, "\n".join(kept)
