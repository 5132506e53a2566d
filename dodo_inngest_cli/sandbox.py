"""The QuickJS sandbox: runs a Dodo (Svix-style) transformation exactly as production would.

Each delivery runs in a fresh QuickJS context with a memory limit, a stack limit and a time
budget, so nothing one delivery leaves in globals reaches the next, and a runaway script ends
in a finding instead of taking the process down.

The harness is hostile-input proof: it is evaluated before the transform and keeps private
references to every intrinsic it uses, so a transform that replaces `JSON.stringify`,
`Array.prototype.toJSON`, `Function.prototype.call` or the like changes nothing the harness
does. Python holds the harness as one function and calls it; every call, the harness's own
included, runs under what is left of the time budget. What comes back is always a number or
JSON text the harness wrote (strings through its own `JSON.stringify`), so lone surrogates
arrive escaped.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import quickjs

from .errors import InputError, in_range
from .models import ConsoleLine, OutgoingRequest, TransformResult, TransformStatus, Webhook
from .rules import Finding, finding
from .textsafe import printable

MAX_CODE_CHARS = 51_200
"""The Dodo/Svix API refuses transformation code longer than this."""

DEFAULT_ENDPOINT_URL = "https://inn.gs/e/local-test-key"
"""The endpoint URL a transform sees when none is configured."""

TIME_LIMIT_MS = (1.0, 60_000.0)
"""The time limits accepted: below 1 ms nothing runs; above a minute is no limit at all."""
MEMORY_LIMIT_MIB = (1.0, 4_096.0)
"""The memory limits accepted: a context with the harness and a real payload needs well
under 1 MiB; QuickJS counts in a machine-size integer, and 4 GiB is past any transform."""
STACK_LIMIT_KIB = (64, 4_096)
"""The stack limits accepted: the harness needs about 16 KiB; the stack QuickJS may use must
stay well inside a thread's own (8 MiB by default on Linux), or deep recursion crashes the
process instead of ending in a finding."""

# The harness: evaluated first in every fresh context, before any transform code, so the
# intrinsics it captures are the real ones, and returning the one function Python calls.
# QuickJS parses it for every delivery at a few thousand instructions a token, which is most of
# its cost, so it holds only what every run needs:
#   K  the captured intrinsics, an array (K.parse in these sources is rewritten to K[1]);
#   S  the run's state, in an object without a prototype, which no setter a transform adds to
#      Object.prototype can reach (the harness writes arrays only as literals);
#   InternalError fixed: an interrupt throws one, cannot be caught, and the binding reads its
#      text and stack itself with no time limit, so its toString, name, Symbol.toPrimitive and
#      stack are the prototype's own and frozen (no stack: a getter would cost compiling, and
#      a stack Error.prepareStackTrace made could be anything);
#   the replacer: marks the result lossy when JSON drops or nulls a value (an object that
#      became null may be an Invalid Date: the lost-value piece tells);
#   the first call (op ""): evaluate the code, call the entry point with the arguments (JSON;
#      a Dodo payload, JSON itself, comes apart: the same string for every run of a webhook,
#      which the binding converts faster), and answer the JSON of the result, or a number
#      (below) when it needs more than that.
# Everything else is a piece (below): a factory Python passes as source when a run needs it,
# compiled on its first use in a run and given only K, S, the piece loader and the replacer.
#
# The globals a transform may use beyond the engine's own (console, setTimeout, clearTimeout,
# and queueMicrotask and FinalizationRegistry, wrapped: a callback that throws in a job would
# escape into the binding, which reads it with no time limit) cost compiling. Code that names
# none of them gets the lean harness, which has none of them (a transform reaching one without
# its name, `globalThis["con" + "sole"]`, finds it undefined); other code gets accessors that
# compile each on first use from the pieces passed with the first call (GLOBALS below).
_LEAN_CAPTURES = {
    "eval": "eval", "parse": "JSON.parse", "stringify": "JSON.stringify",
    "isArray": "Array.isArray", "keys": "Object.keys", "text": "String",
    "isError": "Error.isError", "apply": "Reflect.apply",
    # called as K.time(date), K.join(array, separator): `this` first
    "time": "u(Date.prototype.getTime)", "join": "u([].join)",
}
_CAPTURES = {  # with the globals
    **_LEAN_CAPTURES, "global": "globalThis", "define": "Object.defineProperty",
    "slice": "u(''.slice)", "bind": "u(F.bind)", "queueMicrotask": "queueMicrotask",
    "FinalizationRegistry": "FinalizationRegistry",
}

_HARNESS = r"""(function () {
"use strict";
var F = Function.prototype, u = F.bind.bind(F.call), S = {__proto__: null}, K = [CAPTURES];
Object.freeze(Object.defineProperties(InternalError.prototype, {
  toString: {value: Error.prototype.toString}, [Symbol.toPrimitive]: {}, stack: {value: ""}}));
GLOBALS
function __dodo_piece(n, s) {
  return S["@" + n] || (S["@" + n] = K.eval(s || K.parse(S.lazy)[n])(K, S, __dodo_piece,
                                                                        __dodo_keep));
}
function __dodo_keep(k, v) {
  var t = typeof v;
  if (t == "undefined" || t == "function" || t == "symbol" || t == "number" && v - v !== 0
      || v === null && typeof (t = this[k]) == "object" && t) S.lost = 1;
  return v;
}
return function __dodo_call(op, a, b, c, d, e) {
  try {
    if (d) S.lazy = d;
    if (op) return __dodo_piece(op, a)(b);
    var t = e ? K.eval(e)(K, S) : null, o = K.eval(a);
    if (typeof o != "function") return 3;
    b = K.parse(b);
    if (c) b[0].payload = K.parse(c);
    if (t) b[0].payload = t(b[0].payload);
    o = S.value = K.apply(o, undefined, b);
    if (o !== null && (typeof o == "object" || typeof o == "function")
        && typeof o.then == "function") return 0;
    S.state = 1;
    o = K.stringify(o, __dodo_keep);
    return S.lost || S.count || typeof o != "string" ? 1 : o;
  } catch (x) {
    if (S.state != 2) { S.serialising = S.state; S.state = 2; S.thrown = x; }
    return 2;
  }
};
})()"""

_GLOBALS = r"""var N = "console setTimeout clearTimeout queueMicrotask FinalizationRegistry"
  .split(" "), i;
function __dodo_lazy(n, v) { return __dodo_piece("global")(n, v, arguments.length); }
for (i = 0; i < 5; i++) K.define(K.global, N[i], {configurable: true,
  get: K.bind(__dodo_lazy, null, N[i]), set: K.bind(__dodo_lazy, null, N[i])});"""
_NO_GLOBALS = "delete globalThis.queueMicrotask;\ndelete globalThis.FinalizationRegistry;"
_NAMES_GLOBALS = re.compile(
    r"console|setTimeout|clearTimeout|queueMicrotask|FinalizationRegistry")

# What the report, console and lost-value pieces answer is JSON they write themselves: QuickJS's
# JSON.stringify keeps the objects it is inside of in an array it writes with [[Set]], so a
# setter a transform puts on Array.prototype[0] would run inside it. Strings go through
# stringify one by one (no array then), objects without a prototype through for-in, and the
# result is joined into one flat string (the binding cannot read a string made by +).
_JSON_TEXT = r"""function __dodo_json(v) {
  if (typeof v === "string") return K.stringify(v);
  if (v === null || typeof v !== "object") return "" + v;
  var s = "{", sep = "";
  for (var k in v) { s += sep + K.stringify(k) + ":" + __dodo_json(v[k]); sep = ","; }
  return s + "}";
}
function __dodo_answer(v) { return S.text = K.join([__dodo_json(v)], ""); }"""

# The pieces: factories called with (K, S, P, keep), P the piece loader and keep the
# replacer; each reads no global of its own. Those a transform can reach (the lazy globals)
# travel with every first call of code that names them; Python passes the others when needed.
_PIECES = {
    # The code alone (a transform's first check): 1 if it defines the entry point.
    "define": r""""use strict"; (function (K) {
return function __dodo_define(code) { return K.eval(code) ? 1 : 3; };
})""",
    # The accessors of the lazy globals: compile the global on first read, then replace the
    # accessor by the value (a write replaces it by the value written).
    "global": r""""use strict"; (function (K, S, P) {
return function __dodo_global(name, value, given) {
  if (given < 2) value = P(name === "clearTimeout" ? "setTimeout" : name)[name];
  try {
    K.define(K.global, name, {__proto__: null, value: value, writable: true,
      enumerable: given > 1, configurable: true});
  } catch (e) { if (given > 1) throw e; }
  return value;
};
})""",
    "console": r""""use strict"; (function (K, S) {
S.lines = {__proto__: null};
S.count = S.chars = S.dropped = 0;
function __dodo_text(v) {
  if (typeof v === "string") return v;
  if (v !== null && typeof v === "object" && !K.isError(v)) {
    try { var json = K.stringify(v); if (typeof json === "string") return json; } catch (e) {}
  }
  try { return K.text(v); } catch (e) { return "(a value that cannot be shown)"; }
}
function __dodo_log(level) {
  var text = "";
  for (var i = 1; i < arguments.length; i++) text += (i > 1 ? " " : "") + __dodo_text(arguments[i]);
  if (text.length > 10000) text = K.slice(text, 0, 10000);
  if (S.count < 1000 && S.chars + text.length <= 1000000) {
    S.lines[S.count++] = {__proto__: null, level: level, text: text};
    S.chars += text.length;
  } else S.dropped++;
}
return {__proto__: null, console: {log: K.bind(__dodo_log, undefined, "log"),
  info: K.bind(__dodo_log, undefined, "info"), warn: K.bind(__dodo_log, undefined, "warn"),
  error: K.bind(__dodo_log, undefined, "error"), debug: K.bind(__dodo_log, undefined, "debug")}};
})""",
    # setTimeout on a virtual clock: timers fire in due order once promise jobs are done.
    "setTimeout": r""""use strict"; (function (K, S) {
var seq = 0;
S.queue = {__proto__: null};
S.clock = 0;
function __dodo_set_timeout(fn, delay) {
  var wait = +delay, args = {__proto__: null, length: 0};
  if (!(wait > 4)) wait = 4;
  for (var i = 2; i < arguments.length; i++) args[args.length++] = arguments[i];
  seq++;
  S.queue[seq] = {__proto__: null, id: seq, due: S.clock + wait, fn: fn, args: args};
  return seq;
}
function __dodo_clear_timeout(id) { if (typeof id === "number") delete S.queue[id]; }
return {__proto__: null, setTimeout: __dodo_set_timeout, clearTimeout: __dodo_clear_timeout};
})""",
    # A microtask or finalizer that throws fails the delivery, instead of the exception
    # escaping from the job queue into the binding (which would read it with no time limit).
    "queueMicrotask": r""""use strict"; (function (K, S) {
function __dodo_queue_microtask(callback) {
  if (typeof callback !== "function") return K.queueMicrotask(callback);  // the TypeError
  K.queueMicrotask(function __dodo_microtask() {
    try { callback(); } catch (e) { if (S.state !== 2) { S.state = 2; S.thrown = e; } }
  });
}
return {__proto__: null, queueMicrotask: __dodo_queue_microtask};
})""",
    "FinalizationRegistry": r""""use strict"; (function (K, S) {
var Original = K.FinalizationRegistry;
function __dodo_finalization_registry(cleanup) {
  if (typeof cleanup !== "function") return new Original(cleanup);  // the TypeError
  return new Original(function __dodo_cleanup(held) {
    try { cleanup(held); } catch (e) { if (S.state !== 2) { S.state = 2; S.thrown = e; } }
  });
}
__dodo_finalization_registry.prototype = Original.prototype;
try {
  K.define(Original.prototype, "constructor", {__proto__: null,
    value: __dodo_finalization_registry, writable: true, configurable: true});
} catch (e) {}
return {__proto__: null, FinalizationRegistry: __dodo_finalization_registry};
})""",
    # Wait for a returned promise (or thenable), as production awaits the handler.
    "await": r""""use strict"; (function (K, S) {
async function __dodo_wait(promise) {
  try {
    var value = await promise;
    if (S.state !== 2) { S.state = 1; S.value = value; }
  } catch (e) { if (S.state !== 2) { S.state = 2; S.thrown = e; } }
}
return function __dodo_await() { __dodo_wait(S.value); return 0; };
})""",
    # Once promise jobs are done: settled (-3), or fire the next timer if it is due before
    # the deadline (its due time), or say none is due in time (-2) or none is left (-1).
    "poll": r""""use strict"; (function (K, S) {
return function __dodo_poll(deadline) {
  if (S.state) return -3;
  var queue = S.queue, next = null;
  for (var id in queue) {
    var t = queue[id];
    if (next === null || t.due < next.due || t.due === next.due && t.id < next.id) next = t;
  }
  if (next === null) return -1;
  if (next.due > deadline) return -2;
  delete queue[next.id];
  S.clock = next.due;
  try { if (typeof next.fn === "function") K.apply(next.fn, undefined, next.args); }
  catch (e) { if (S.state !== 2) { S.state = 2; S.thrown = e; } }
  return next.due;
};
})""",
    # The whole report: state, kind, lost values, console lines, and what was thrown.
    "report": r""""use strict"; (function (K, S, P, keep) {
JSON_TEXT
function __dodo_describe(e) {
  var d = {__proto__: null, name: "", message: "", stack: "", nothing: e === null};
  if (K.isError(e)) {
    try { d.name = K.text(e.name); } catch (x) {}
    try { d.message = K.text(e.message); } catch (x) {}
    try { var stack = e.stack; if (typeof stack === "string") d.stack = stack; } catch (x) {}
    return d;
  }
  var text;
  if (e !== null && typeof e === "object") { try { text = K.stringify(e); } catch (x) {} }
  if (typeof text !== "string") {
    try { text = K.text(e); } catch (x) { text = "(a value that cannot be shown)"; }
  }
  d.message = "uncaught " + text;
  return d;
}
return function __dodo_report() {
  var meta = {__proto__: null, state: S.state, out: "", kind: "", lost: false,
    serialising: false, error: null, lines: S.lines || null, count: S.count || 0,
    dropped: S.dropped || 0}, v = S.value;
  if (S.state === 1) {
    S.lost = 0;
    try {
      meta.out = K.stringify(v, keep);
      if (typeof meta.out !== "string") { meta.kind = typeof v; meta.out = ""; }
      meta.lost = S.lost === 1;
    } catch (e) { S.state = 2; S.thrown = e; S.serialising = 1; }
  }
  if (S.state === 2) {
    meta.state = 2;
    meta.serialising = S.serialising === 1;
    meta.error = __dodo_describe(S.thrown);
  }
  return __dodo_answer(meta);
};
})""",
    # What the console holds (after a time-out).
    "lines": r""""use strict"; (function (K, S) {
JSON_TEXT
return function __dodo_lines() {
  return __dodo_answer({__proto__: null, lines: S.lines || null, count: S.count || 0,
                        dropped: S.dropped || 0});
};
})""",
    # Field reads (coverage --fields), opt in: made before the transform's code runs, so the
    # intrinsics it keeps are the real ones; the handler sees the payload through a proxy
    # that notes the JSON pointer of each field read (`*` for array items) until the result
    # settles. Objects are proxied once each, so `d === webhook.payload.data` still holds.
    "track": r""""use strict"; (function (K, S) {
var Px = Proxy, get = Reflect.get, has = Reflect.has, own = Reflect.ownKeys, call = Reflect.apply,
  isArray = Array.isArray, hasOwn = Object.hasOwn, map = new WeakMap(),
  mget = WeakMap.prototype.get, mset = WeakMap.prototype.set;
S.reads = {__proto__: null};
S.nreads = 0;
function note(path) { if (!S.state && !(path in S.reads)) S.reads[path] = S.nreads++; }
function token(key) {
  var t = "";
  for (var i = 0; i < key.length; i++) t += key[i] === "~" ? "~0" : key[i] === "/" ? "~1" : key[i];
  return t;
}
function index(key) {
  if (key === "") return false;
  for (var i = 0; i < key.length; i++) if (key[i] < "0" || key[i] > "9") return false;
  return true;
}
function wrap(value, path) {
  if (value === null || typeof value !== "object") return value;
  var known = call(mget, map, [value]);
  if (known) return known;
  var list = isArray(value), proxy = new Px(value, {__proto__: null,
    get: function __dodo_read(target, key, receiver) {
      var v = get(target, key, receiver);
      if (typeof key !== "string" || S.state) return v;
      if (list ? !index(key) : typeof v === "function" && !hasOwn(target, key)) return v;
      var where = path + "/" + (list ? "*" : token(key));
      note(where);
      return wrap(v, where);
    },
    has: function __dodo_has(target, key) {
      if (typeof key === "string" && !list) note(path + "/" + token(key));
      return has(target, key);
    },
    ownKeys: function __dodo_keys(target) { note(path); return own(target); }});
  call(mset, map, [value, proxy]);
  return proxy;
}
return function __dodo_track(root) { return wrap(root, ""); };
})""",
    "reads": r""""use strict"; (function (K, S) {
JSON_TEXT
return function __dodo_reads() { return __dodo_answer({__proto__: null, reads: S.reads || null}); };
})""",
    # The last text again, once the memory limit is raised to copy it out.
    "again": r""""use strict"; (function (K, S) {
return function __dodo_again() { return S.text; };
})""",
    # Where each lost value was (in the payload, or the whole event): paths are the JSON texts
    # of the keys, comma-separated.
    "lossy": r""""use strict"; (function (K, S) {
JSON_TEXT
var found = {__proto__: null}, count = 0, seen = {__proto__: null}, depth = 0;
function __dodo_add(path, what) {
  if (count < 20) found[count++] = {__proto__: null, path: path, what: what};
}
function __dodo_walk(value, path) {
  if (count >= 20 || depth > 200) return;
  if (typeof value === "number") {
    if (value - value !== 0) __dodo_add(path, K.text(value) + " becomes null");
    return;
  }
  if (value === undefined) { __dodo_add(path, "undefined becomes null"); return; }
  if (typeof value === "function") { __dodo_add(path, "a function becomes null"); return; }
  if (typeof value === "symbol") { __dodo_add(path, "a symbol becomes null"); return; }
  if (value === null || typeof value !== "object") return;
  for (var i = 0; i < depth; i++) if (seen[i] === value) return;
  try {
    if (K.time(value) !== K.time(value)) __dodo_add(path, "an Invalid Date becomes null");
    return;
  } catch (e) {}
  seen[depth++] = value;
  if (K.isArray(value)) {
    for (var j = 0; j < value.length; j++) __dodo_walk(value[j], path + "," + j);
  } else {
    var keys = K.keys(value);
    for (var k = 0; k < keys.length; k++) {
      var child = value[keys[k]], where = path + "," + K.stringify(keys[k]);
      if (child === undefined) __dodo_add(where, "undefined: the property is dropped");
      else if (typeof child === "function") {
        __dodo_add(where, "a function: the property is dropped");
      }
      else if (typeof child === "symbol") __dodo_add(where, "a symbol: the property is dropped");
      else __dodo_walk(child, where);
    }
  }
  depth--;
}
return function __dodo_lossy(whole) {
  try { __dodo_walk(whole ? S.value : S.value.payload, ""); } catch (e) {}
  return __dodo_answer({__proto__: null, found: found, count: count});
};
})""",
}
_LAZY = ("global", "console", "setTimeout", "queueMicrotask", "FinalizationRegistry")
"""The pieces transform code can reach (with the globals): passed with each first call."""


def _with_captures(source: str) -> str:
    """A source with `K.name` written as the index of that capture in the K array."""
    index = {name: i for i, name in enumerate(_CAPTURES)}
    return re.sub(r"\bK\.(\w+)", lambda m: f"K[{index[m.group(1)]}]", source)


_HARNESS_LEAN = _with_captures(_HARNESS.replace("GLOBALS", _NO_GLOBALS).replace(
    "CAPTURES", ", ".join(_LEAN_CAPTURES.values())))
_HARNESS_FULL = _with_captures(_HARNESS.replace("GLOBALS", _GLOBALS).replace(
    "CAPTURES", ", ".join(_CAPTURES.values())))
_PIECES = {name: _with_captures(re.sub(r"\n\s*", "\n",
                                       source.replace("JSON_TEXT", _JSON_TEXT)))
           for name, source in _PIECES.items()}
_LAZY_JSON = json.dumps({name: _PIECES[name] for name in _LAZY})
"""Passing this costs much less than parsing it would."""

# What the harness answers: text, or one of these numbers. The first call answers the JSON of
# the result when nothing more is needed, or: pending, settled (the report piece tells how;
# for "define", the code is defined), failed, or no entry point.
# The poll piece: settled, late, idle, or the due time of the timer it fired.
_PENDING, _SETTLED_FIRST, _FAILED, _NO_ENTRY = 0, 1, 2, 3
_SETTLED, _LATE, _IDLE = -3, -2, -1

_SLACKS = (2.0, 8.0, 64.0)
"""How much more process CPU time than this thread's budget QuickJS allows, try by try."""
_RESERVE_S = 0.25
"""Time the harness's own reading gets after the budget is spent (console lines after a
time-out): it runs no transform code, so it never needs this much."""
_RESERVE_BYTES = 1024 * 1024
"""Memory added, once no transform code runs any more, to copy a report out."""

_FRAME = re.compile(r"^\s*at (?P<fn>\S+)")
_LOCATION = re.compile(r"<input>:(\d+)(?::(\d+))?")
_MAX_FRAMES = 8
_PARSE_ERROR = re.compile(r"^\s*at <input>:\d+")
_PARAMS = '"transformationsParams":{}}]'
_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
_UNSAFE = re.compile("[\0\ud800-\udfff]")
"""What the binding cannot pass into QuickJS: NUL ends its C string, a lone surrogate has
no UTF-8 form."""
_NO_TEXT = "(Failed obtaining QuickJS error string"
"""What the binding says of an error it could not turn into text: no memory left for it."""


@dataclasses.dataclass(frozen=True)
class LimitNames:
    """What to call each limit in an error: the flag or config key it came from."""

    time: str = "time_ms"
    memory: str = "memory_mib"
    stack: str = "stack_kib"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Sandbox limits; defaults are the open-source Svix Bridge's (Dodo's are unpublished).

    Always on: a value outside the accepted range is an InputError naming where it came from.
    """

    time_ms: float = 100.0
    memory_mib: float = 25.0
    stack_kib: float = 1024.0
    names: LimitNames = dataclasses.field(default=LimitNames(), compare=False, repr=False)

    def __post_init__(self) -> None:
        hint = "the sandbox limits are always on; pick a value in the range"
        in_range(self.names.time, self.time_ms, *TIME_LIMIT_MS, "ms", hint=hint)
        in_range(self.names.memory, self.memory_mib, *MEMORY_LIMIT_MIB, "MiB", hint=hint)
        in_range(self.names.stack, self.stack_kib, *STACK_LIMIT_KIB, "KiB", hint=hint)

    @property
    def memory_bytes(self) -> int:
        """The memory limit in bytes, as QuickJS takes it."""
        return int(self.memory_mib * 1024 * 1024)

    @property
    def stack_bytes(self) -> int:
        """The stack limit in bytes, as QuickJS takes it."""
        return int(self.stack_kib * 1024)


class _Timeout(Exception):
    """The time budget of one run is spent."""


class _Escaped(Exception):
    """An error reached the binding instead of the harness: memory, stack, or the harness's
    own report not fitting."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


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
        # The code, then one expression on a line of its own whose value is the entry point:
        # one evaluation, so the code keeps its line numbers and `const handler` works.
        # QuickJS takes a NUL inside a string or comment, and reports one elsewhere as a
        # syntax error at its line and column (see _passable).
        # The first check asks whether the entry point is a function; runs take it as it is.
        self.check = _passable(f"{code}\n;typeof {self.entry} === 'function' && {self.entry}")
        self.source = _passable(f"{code}\n;{self.entry}")
        self.globals = _NAMES_GLOBALS.search(code) is not None
        """Whether the code names a global the lean harness lacks (console, setTimeout, …)."""
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
            raise InputError(f"{path}: is a folder, not a transform file",
                             hint="name a .js file; 'dodo-inngest test FOLDER' tests every "
                                  "transform and payload in a folder") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})",
                             hint="save the transform as UTF-8") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        return cls(code, str(path), **options)

    def _probe(self) -> TransformResult | None:
        """Compile the code once: syntax errors, top-level faults and a missing entry."""
        started = time.perf_counter()
        outcome = _Run(self).execute(started, "define", self.check, phase="define")
        return outcome if isinstance(outcome, TransformResult) else None


class Transform(_Script):
    """A Dodo transformation: `handler(webhook)` with Svix semantics."""

    def __init__(self, code: str, path: str, *, limits: Limits | None = None,
                 env: dict[str, str] | None = None,
                 endpoint_url: str = DEFAULT_ENDPOINT_URL,
                 endpoint_headers: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})
        self.endpoint_url = endpoint_url
        self.endpoint_headers = dict(endpoint_headers or {})
        # The handler's argument as JSON, the payload set apart (then _PARAMS).
        self._before = (f'[{{"method":"POST","url":{json.dumps(endpoint_url)},"payload":null,'
                        f'"env":{json.dumps(self.env)},"eventType":')
        super().__init__(code, path, limits=limits)
        if len(code) > MAX_CODE_CHARS:
            self.static_findings.append(finding(
                "code-too-long",
                f"the transform is {len(code):,} characters; Dodo accepts at most "
                f"{MAX_CODE_CHARS:,}",
                hint="move large tables out of the code or shorten it"))

    def with_endpoint(self, url: str) -> Transform:
        """The same code seeing another endpoint URL (the target of a send)."""
        return Transform(self.code, self.path, limits=self.limits, env=self.env,
                         endpoint_url=url, endpoint_headers=self.endpoint_headers)

    def run(self, webhook: Webhook, *, track_reads: bool = False) -> TransformResult:
        """Run the handler on one webhook in a fresh context; never raises for script faults.
        With track_reads, the result also lists the payload fields the handler read."""
        started = time.perf_counter()
        if self._load_error is not None:
            return dataclasses.replace(self._load_error, reads=()) if track_reads \
                else self._load_error
        for slack in _SLACKS:  # see _Run.preempted
            run = _Run(self, input_bytes=len(webhook.body), slack=slack)
            arguments = f'{self._before}{json.dumps(webhook.event_type)},{_PARAMS}'
            outcome = run.execute(started, "", arguments, _safe_json(webhook.body),
                                  phase="run", tracker=_PIECES["track"] if track_reads else None)
            if not run.preempted:
                break
        result = outcome if isinstance(outcome, TransformResult) \
            else run.output_result(started, webhook, outcome)
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
        run = _Run(self, whole=True)
        try:
            evt = json.loads(body)
        except json.JSONDecodeError:
            evt = {}
        query = {key: [value] for key, value in
                 (part.split("=", 1) for part in urlsplit(url).query.split("&") if "=" in part)}
        canonical = {"-".join(w.capitalize() for w in name.split("-")): value
                     for name, value in headers.items()}
        outcome = run.execute(started, "", json.dumps([evt, canonical, query, body]),
                              phase="run")
        if isinstance(outcome, TransformResult):
            return outcome
        return run.event_result(started, url, outcome)


class _Run:
    """One run of a transform in its own QuickJS context."""

    def __init__(self, transform: _Script, *, input_bytes: int = 0, whole: bool = False,
                 slack: float = _SLACKS[0]) -> None:
        self.transform = transform
        self.slack = slack
        self.preempted = False
        """QuickJS stopped the run before this thread spent its budget (see _budgeted)."""
        self.whole = whole
        """Whether the result is the event itself (Inngest), not a webhook holding it."""
        limits = transform.limits
        self.context = quickjs.Context()
        self.context.set_memory_limit(limits.memory_bytes)
        self.context.set_max_stack_size(limits.stack_bytes)
        self.harness: Any = None
        self.budget_s = limits.time_ms / 1000.0
        self.used_s = 0.0
        self.virtual_ms = 0.0
        self.console: list[ConsoleLine] = []
        self.input_bytes = input_bytes
        """The size of what the call is given, to explain running out of memory."""

    # -- calling JavaScript ---------------------------------------------------------------

    def call(self, name: str, *args: Any, reserve: bool = False) -> Any:
        """Call a piece of the harness with whatever remains of the time budget."""
        return self._budgeted(self.harness, name, _PIECES[name], *args, reserve=reserve)

    def _budgeted(self, step: Any, *args: Any, reserve: bool = False) -> Any:
        """Run one step of JS with the rest of the time budget (at least the reserve when
        only the harness runs); running out is _Timeout, an error that escapes is _Escaped.

        The budget is this thread's CPU time. QuickJS's own limit, the only thing that can
        stop a loop, counts the whole process's CPU time (C `clock()`): with other threads at
        work (a replay's workers, an HTTP client) it runs out early. So QuickJS is given the
        remainder times a slack, and a stop that comes before this thread spent its budget
        marks the run preempted: it is run again from scratch with more slack."""
        remaining = self.budget_s - self.used_s - self.virtual_ms / 1000.0
        if reserve:
            remaining = max(remaining, _RESERVE_S)
        elif remaining <= 0:
            raise _Timeout
        self.context.set_time_limit(remaining * self.slack)
        started = time.thread_time()
        try:
            return step(*args)
        except quickjs.JSException as exc:
            text = str(exc)
            if text.startswith("InternalError: interrupted"):
                spent = time.thread_time() - started
                if spent < remaining * 0.9 and self.slack < _SLACKS[-1]:
                    self.preempted = True
                raise _Timeout from None
            raise _Escaped(text) from None
        finally:
            self.used_s += time.thread_time() - started

    def text(self, name: str, *args: Any) -> str:
        """A piece that answers text; if the text did not fit in memory to be copied out,
        copy it again with room to spare (no transform code runs any more)."""
        raw = self.call(name, *args)
        if raw is None:
            self.context.set_memory_limit(self.transform.limits.memory_bytes * 2
                                          + _RESERVE_BYTES)
            raw = self.call("again", reserve=True)
        if not isinstance(raw, str):
            raise _Escaped("null")  # the harness could not build its text: no memory left
        return raw

    def reads(self) -> tuple[str, ...]:
        """The payload fields a tracked run read, in the order it first read them."""
        if self.harness is None:
            return ()
        try:
            raw = self.call("reads", reserve=True)
            found = json.loads(raw).get("reads") or {} if isinstance(raw, str) else {}
        except (_Timeout, _Escaped, ValueError):
            return ()
        return tuple(sorted(found, key=found.__getitem__))

    def job(self) -> bool:
        """Run one pending promise job within the time budget."""
        return bool(self._budgeted(self.context.execute_pending_job))

    # -- one run --------------------------------------------------------------------------

    def execute(self, started: float, op: str, argument: str, payload: str = "", *,
                phase: str, tracker: str | None = None) -> TransformResult | dict[str, Any]:
        """Evaluate the harness, make the first call (op "": evaluate the code and call the
        entry point; or a piece that evaluates it), settle promises and timers; the script's
        report, or a finished result when it could not run to the end."""
        script = self.transform
        try:
            self.harness = self._budgeted(self.context.eval, _HARNESS_FULL if script.globals
                                          else _HARNESS_LEAN)
            lazy = _LAZY_JSON if script.globals else None
            if not op:
                answer = self._budgeted(self.harness, op, script.source, argument, payload,
                                        lazy, tracker)
            else:
                answer = self._budgeted(self.harness, op, _PIECES[op], argument, None, lazy)
            if answer == _NO_ENTRY:
                return self.error_result(started, finding(
                    "js-no-handler", f"the transform defines no function named "
                                     f"`{script.entry}`", hint=script.entry_hint))
            if phase == "define" and answer == _SETTLED_FIRST:
                return {}
            raw = self.settle(answer)
            if raw is None:
                return self.checked(started, json.loads(answer), {})
            report: dict[str, Any] = json.loads(raw)
            self.console = _console(report)
            outcome = self.judge(started, report, phase)
            if isinstance(outcome, dict) and report["lost"]:
                outcome["lossy"] = json.loads(self.text("lossy", self.whole))
            return outcome
        except RecursionError:
            return self.too_deep(started)
        except _Timeout:
            self.read_console()
            when = "while the top-level code ran" if phase == "define" \
                else f"while `{script.entry}` ran"
            return self.timeout_result(started, when)
        except _Escaped as exc:
            self.read_console()
            return self.exception_result(started, exc.text, phase=phase)

    def settle(self, answer: Any) -> str | None:
        """Run promise jobs, then timers, until the result is settled: the report, or None
        when the first answer, the JSON of the result, stands."""
        if answer == _PENDING:
            self.call("await")
        while True:
            ran = False
            while self.job():
                ran = True
            if not ran and isinstance(answer, str):
                return None
            if not ran and answer in (_SETTLED_FIRST, _FAILED):
                break
            answer = self.call("poll", (self.budget_s - self.used_s) * 1000.0)
            if answer == _SETTLED:
                break
            if answer in (_LATE, _IDLE):
                raise _Timeout  # a promise that never settles: production times out too
            self.virtual_ms = max(self.virtual_ms, float(answer))
        return self.text("report")

    def judge(self, started: float, report: dict[str, Any],
              phase: str) -> TransformResult | dict[str, Any]:
        """A finished result for a failed run; the report, with the value, for one that
        ended (output_result judges the value)."""
        if report["state"] == _FAILED:
            error = report["error"]
            if error["nothing"]:
                return self.memory_result(started)
            message = f"{error['name']}: {error['message']}" if error["name"] else error["message"]
            if report["serialising"]:
                if "Maximum call stack size exceeded" in message:
                    return self.too_deep(started)
                message = f"the result cannot be serialised to JSON: {message}"
            return self.exception_result(started, message + "\n" + error["stack"], phase=phase)
        if not report["out"]:  # a value JSON has no text for
            return self.not_object(started, report["kind"])
        return self.checked(started, json.loads(report["out"]), report)

    def checked(self, started: float, value: Any,
                report: dict[str, Any]) -> TransformResult | dict[str, Any]:
        """The report with the value, when the value is an object; else the finding."""
        kind = _KINDS.get(type(value), "number")
        if kind != "object":
            return self.not_object(started, kind)
        report["value"] = value
        return report

    def not_object(self, started: float, kind: str) -> TransformResult:
        """The entry point returned nothing, or something that is not an object."""
        entry = self.transform.entry
        if kind in ("undefined", "null"):
            return self.result(started, TransformStatus.ERROR, [finding(
                "js-no-output", f"`{entry}` returned {kind}",
                hint="return the object on every path")])
        return self.result(started, TransformStatus.ERROR, [finding(
            "js-not-object", f"`{entry}` returned {_a(kind)}, not an object",
            hint="return an object: the webhook (Dodo) or the event (Inngest)")])

    def read_console(self) -> None:
        """Fetch what the script logged, if the context can still answer: only the harness
        runs, with room to spare."""
        if self.harness is None:
            return
        self.context.set_memory_limit(self.transform.limits.memory_bytes * 2 + _RESERVE_BYTES)
        try:
            text = self.call("lines", reserve=True)
        except (_Timeout, _Escaped):
            return
        if isinstance(text, str):
            self.console = _console(json.loads(text))

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

    def too_deep(self, started: float) -> TransformResult:
        """The result is nested deeper than JSON can be read."""
        return self.result(started, TransformStatus.ERROR, [finding(
            "js-not-object", "the returned object is nested too deeply to send as JSON",
            hint="flatten the payload")])

    def memory_result(self, started: float, line: int | None = None,
                      stack: str = "") -> TransformResult:
        """The memory limit ran out (QuickJS throws null when it cannot even build the
        error)."""
        limits = self.transform.limits
        if self.input_bytes * 4 >= limits.memory_bytes:
            size = self.input_bytes / (1024 * 1024)
            return self.error_result(started, finding(
                "js-memory", f"the payload ({size:.1f} MiB) does not fit in the "
                             f"{limits.memory_mib:g} MiB memory limit once parsed",
                hint="real Dodo payloads are a few KiB; if this one is real, raise "
                     "--memory-limit", line=line), stack)
        return self.error_result(started, finding(
            "js-memory", f"the transform ran past the {limits.memory_mib:g} MiB memory limit",
            hint="look for an array or string grown in a loop that does not end; "
                 "--memory-limit changes the limit", line=line), stack)

    def exception_result(self, started: float, text: str, *, phase: str) -> TransformResult:
        """Classify a JS error: syntax, memory, or an exception, with its line."""
        first, _, rest = text.partition("\n")
        first = printable(first)
        path = self.transform.path
        line, column, stack = _locate(rest, path, phase=phase)
        where = f"{path}:{line}" + (f":{column}" if column else "") if line else path
        if "out of memory" in first or first == "null" or first.startswith(_NO_TEXT):
            return self.memory_result(started, line, stack)
        if first.startswith("SyntaxError") and phase == "define" and _PARSE_ERROR.match(rest):
            hint = "fix the syntax; Dodo refuses to save code that does not compile"
            if _char_at(self.transform.code, line, column) == "\0":
                hint = "a NUL character (U+0000) is there, outside any string or comment: " \
                       "remove it, or write \\0 inside a string"
            return self.error_result(started, finding(
                "js-syntax", f"{where}: {first}", hint=hint, line=line), stack)
        hint = "guard fields that may be null or absent (?. and ??)"
        if "Maximum call stack size exceeded" in first or "stack overflow" in first:
            hint = "a recursion that never ends? the stack limit is " \
                   f"{self.transform.limits.stack_kib:g} KiB"
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


def _passable(source: str) -> str:
    """Source the binding can pass: one with a NUL or a lone surrogate goes as its JSON, which
    a first evaluation hands to the real eval (before any transform code has run)."""
    return f"(0, eval)({json.dumps(source)})" if _UNSAFE.search(source) else source


def _safe_json(text: str) -> str:
    """JSON text the binding can pass: a NUL or lone surrogate (only inside a string, or the
    text would not be JSON) written as its escape, which means the same."""
    if "\0" not in text:
        try:
            text.encode("utf-8")  # much faster than a search for surrogates
            return text
        except UnicodeEncodeError:
            pass
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _console(report: dict[str, Any]) -> list[ConsoleLine]:
    """The console lines in a harness report, and a note when some were dropped."""
    lines = report["lines"] or {}
    console = [ConsoleLine(lines[str(i)]["level"], lines[str(i)]["text"])
               for i in range(report["count"])]
    if report["dropped"]:
        console.append(ConsoleLine(
            "warn", f"… {report['dropped']:,} more console lines dropped (at most 1,000 lines "
                    "and 1,000,000 characters are kept)"))
    return console


def _lossy(report: dict[str, Any], what: str) -> list[Finding]:
    """json-lossy findings for the values the JSON round trip lost."""
    found = report.get("lossy")
    if not found:
        return []
    findings = []
    for i in range(found["count"]):
        item = found["found"][str(i)]
        keys = json.loads(f"[{item['path'][1:]}]")
        path = "".join("/" + str(key).replace("~", "~0").replace("/", "~1") for key in keys)
        findings.append(finding("json-lossy", f"{what}{path or ' (root)'}: {item['what']}",
                                path=path, hint="check the field is read from the right place"))
    return findings


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _char_at(code: str, line: int | None, column: int | None) -> str:
    """The character at a 1-based line and column of the code, or "" when there is none."""
    lines = code.split("\n")
    if not line or not column or line > len(lines) or column > len(lines[line - 1]):
        return ""
    return lines[line - 1][column - 1]


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
            continue  # the evaluation of the code around the call; JSON.parse's position
        location = _LOCATION.search(raw)
        if location and line is None:
            line = int(location.group(1))
            column = int(location.group(2)) if location.group(2) else None
        kept.append(raw.replace("<input>", path))
    if len(kept) > _MAX_FRAMES:
        kept = [*kept[:_MAX_FRAMES], f"    … {len(kept) - _MAX_FRAMES} more frames"]
    return line, column, "\n".join(kept)
