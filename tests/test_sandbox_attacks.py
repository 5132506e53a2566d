"""Hostile transforms and inputs: each ends as a finding for its own delivery, within the time
limit, and the next delivery runs as if nothing had happened.

Attacks run in a forked child with a deadline, so a regression that hangs (a transform
escaping the time limit) fails its test instead of stopping the run.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

import pytest

from dodo_inngest_cli.config import load_config
from dodo_inngest_cli.errors import ConfigError, InputError
from dodo_inngest_cli.inngest import check_payload
from dodo_inngest_cli.models import ConsoleLine, Result, Status, TransformStatus, Webhook
from dodo_inngest_cli.pipeline import Checks, Planned, evaluate, run_plan
from dodo_inngest_cli.plan import Choices, transform_options
from dodo_inngest_cli.rules import Finding
from dodo_inngest_cli.sandbox import Limits, Transform
from dodo_inngest_cli.sources import parse_webhook

from conftest import TRANSFORMS, WEBHOOKS, RunCli, sample

NOW_MS = 1_780_000_000_000
PAYMENT = sample("payment.succeeded")
REFUND = sample("refund.succeeded")
GOOD = ("w.payload = {name: 'dodo/' + w.eventType, id: 'i', data: {type: w.eventType}};\n"
        "  return w;")
GOOD_TRANSFORM = Transform(f"function handler(w) {{\n  {GOOD}\n}}", "good.js")
TIMEOUT = "the transform ran past the 100 ms time limit while `handler` ran"

T = TypeVar("T")


def _child(connection: Connection, work: Callable[[], object]) -> None:
    try:
        connection.send((True, work()))
    except BaseException:  # the parent shows it
        connection.send((False, traceback.format_exc()))


def isolated(work: Callable[[], T], *, seconds: float = 60.0) -> T:
    """What work returns, computed in a forked child that must finish within seconds."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, work))
    child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            pytest.fail(f"did not return within {seconds:g} s")
        ok, value = receiver.recv()
    finally:
        child.kill()
        child.join()
    assert ok, value
    return value  # type: ignore[no-any-return]


def deliveries(code: str, limits: Limits | None = None) -> list[tuple[Result, float]]:
    """The attack, then a good transform, each on two webhooks (pipeline.run_plan); each
    result with the seconds it took."""
    def work() -> list[tuple[Result, float]]:
        plan = [Planned(Transform(code, "t.js", limits=limits)), Planned(GOOD_TRANSFORM)]
        timed: list[tuple[Result, float]] = []
        last = time.perf_counter()

        def clock(result: Result) -> None:
            nonlocal last
            now = time.perf_counter()
            timed.append((result, now - last))
            last = now

        run_plan(plan, [PAYMENT, REFUND], Checks(now_ms=NOW_MS, dodo_check=False),
                 on_result=clock)
        return timed
    return isolated(work)


def summary(result: Result) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in result.findings]


def attack(code: str, limits: Limits | None = None) -> Result:
    """The attack's result on the first webhook, after checking that it is the same on the
    second, that each ended within 2 s of the time limit, and that the good transform that
    ran next passed on both."""
    timed = deliveries(code, limits)
    first, second = timed[0][0], timed[1][0]
    assert summary(second) == summary(first)
    limit_s = (limits or Limits()).time_ms / 1000.0
    assert [seconds < limit_s + 2.0 for _, seconds in timed[:2]] == [True, True]
    good = [result for result, _ in timed[2:]]
    assert [(r.status, r.findings) for r in good] == [(Status.PASSED, [])] * 2
    assert [r.request.payload["data"] if r.request else None for r in good] == [
        {"type": "payment.succeeded"}, {"type": "refund.succeeded"}]
    return first


def passed_with_good_payload(result: Result) -> bool:
    return (result.status, result.findings, result.request.payload if result.request else None
            ) == (Status.PASSED, [], {"name": "dodo/payment.succeeded", "id": "i",
                                      "data": {"type": "payment.succeeded"}})


# -- 1. the time limit cannot be escaped --------------------------------------------------


def test_item1_array_toJSON_override_cannot_escape_the_time_limit() -> None:
    result = attack("Array.prototype.toJSON = function () { for (;;) {} };\n"
                    "function handler(w) { for (;;) {} }")
    assert summary(result) == [("js-timeout", TIMEOUT)]


def test_item1_JSON_stringify_override_cannot_escape_the_time_limit() -> None:
    result = attack("JSON.stringify = function () { for (;;) {} };\n"
                    "function handler(w) { for (;;) {} }")
    assert summary(result) == [("js-timeout", TIMEOUT)]


def test_item1_toJSON_on_the_console_lines_cannot_escape_the_time_limit() -> None:
    result = attack(
        "console.log('loaded');\n"
        "if (typeof __dodo_console === 'object') {\n"
        "  __dodo_console.toJSON = function () { for (;;) {} };\n}\n"
        "Object.defineProperty(Array.prototype, '0', {set: function () { for (;;) {} }});\n"
        "function handler(w) { console.log('running'); for (;;) {} }")
    assert summary(result) == [("js-timeout", TIMEOUT)]
    assert result.console == [ConsoleLine("log", "loaded"), ConsoleLine("log", "running")]


def test_item1_timers_are_polled_within_the_budget() -> None:
    result = attack("Array.prototype.sort = Array.prototype.filter = function () { for (;;) {} };\n"
                    "async function handler(w) {\n"
                    "  await new Promise(function (r) { setTimeout(r, 10); });\n"
                    f"  {GOOD}\n}}")
    assert passed_with_good_payload(result)


def test_item1_an_error_text_the_binding_reads_runs_no_transform_code() -> None:
    result = attack(
        "Error.prototype.toString = function () { for (;;) {} };\n"
        "Object.defineProperty(Error.prototype, 'stack', {get: function () { for (;;) {} }});\n"
        "Object.prototype[Symbol.toPrimitive] = function () { for (;;) {} };\n"
        "try { InternalError.prototype.name = {toString: function () { for (;;) {} }}; }\n"
        "catch (e) {}\n"
        "Error.prepareStackTrace = function () {\n"
        "  return {toString: function () { for (;;) {} }};\n};\n"
        "function handler(w) { for (;;) {} }")
    assert summary(result) == [("js-timeout", TIMEOUT)]


# -- 2. harness names cannot be overridden ---------------------------------------------------


def test_item2_overriding_JSON_stringify_changes_nothing_the_harness_reads() -> None:
    result = attack("JSON.stringify = function () { return 42; };\n"
                    "JSON.parse = function () { return 42; };\n"
                    f"function handler(w) {{\n  {GOOD}\n}}")
    assert passed_with_good_payload(result)


def test_item2_redefining_the_old_harness_names_changes_nothing() -> None:
    result = attack("function __dodo_finish() { return 'x'; }\n"
                    "var __dodo_state = 'done', __dodo_start = null, __dodo_call = null;\n"
                    f"function handler(w) {{\n  {GOOD}\n}}")
    assert passed_with_good_payload(result)


# -- 3. running out of memory is js-memory ---------------------------------------------------


def test_item3_running_out_of_memory_on_small_strings_is_js_memory() -> None:
    # QuickJS throws null when it cannot even build the "out of memory" error.
    result = attack('function handler(x) {\n  var a = [];\n'
                    '  for (;;) a.push("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + a.length);\n}',
                    Limits(time_ms=20_000, memory_mib=4))
    assert summary(result) == [("js-memory", "the transform ran past the 4 MiB memory limit")]
    assert result.findings[0].hint == (
        "look for an array or string grown in a loop that does not end; --memory-limit "
        "changes the limit")


# -- 4. lone surrogates are judged, never a crash ------------------------------------------


SURROGATE_FINDING = (
    "lone-surrogate", "the string at /data/s holds a lone UTF-16 surrogate (\\ud83d); "
                      "Inngest's decoder replaces it with U+FFFD")


def test_item4_a_string_cut_inside_an_emoji_is_a_warning_naming_its_path() -> None:
    code = ("function handler(w) {\n  w.payload = {name: 'dodo/x', id: 'i', ts: 1773480413589,\n"
            "    data: {s: '\\u{1F600}abc'.slice(0, 1)}};\n  console.log(w.payload.data.s);\n"
            "  return w;\n}")
    result = isolated(lambda: evaluate(Transform(code, "t.js"), PAYMENT, Checks(now_ms=NOW_MS)))
    assert (result.status, summary(result)) == (Status.PASSED, [SURROGATE_FINDING])
    assert result.findings[0].path == "/data/s"
    assert result.request is not None and result.request.payload["data"] == {"s": "\ud83d"}
    assert result.console == [ConsoleLine("log", "\ud83d")]


def test_item4_an_escaped_surrogate_in_the_body_reaches_the_event() -> None:
    body = PAYMENT.body.replace('"name": "Lena Fischer"', '"name": "\\ud83d"')
    webhook = parse_webhook(body.encode(), source="s.json", name="s")
    transform = Transform.from_file(TRANSFORMS / "payment.js")
    result = isolated(lambda: evaluate(transform, webhook, Checks(now_ms=NOW_MS,
                                                                  dodo_check=False)))
    assert (result.status, summary(result)) == (Status.PASSED, [(
        "lone-surrogate", "the string at /data/customer_name holds a lone UTF-16 surrogate "
                          "(\\ud83d); Inngest's decoder replaces it with U+FFFD")])


def test_item4_a_raw_surrogate_in_a_generated_body_runs() -> None:
    # What fuzz builds: json.dumps(..., ensure_ascii=False) of a payload holding one.
    payload = json.loads(PAYMENT.body)
    payload["data"]["customer"]["name"] = "\ud83d"
    webhook = Webhook(payload=payload, body=json.dumps(payload, ensure_ascii=False),
                      source="<fuzz>", name="fuzz")
    code = ("function handler(w) {\n  w.payload = {name: 'dodo/x', id: 'i', ts: 1773480413589,\n"
            "    data: {s: w.payload.data.customer.name}};\n  return w;\n}")
    result = isolated(lambda: evaluate(Transform(code, "t.js"), webhook,
                                       Checks(now_ms=NOW_MS, dodo_check=False)))
    assert (result.status, summary(result)) == (Status.PASSED, [SURROGATE_FINDING])


def test_item4_the_size_check_counts_a_lone_surrogate_as_inngest_does() -> None:
    event = {"name": "dodo/x", "id": "i", "data": {"s": "\ud83d" * 90_000}}
    found = check_payload(event, now_ms=NOW_MS)
    # 42 bytes of JSON around the string, and 3 bytes for each U+FFFD it becomes
    assert [(f.code, f.message) for f in found] == [
        ("lone-surrogate", "the string at /data/s holds a lone UTF-16 surrogate (\\ud83d); "
                           "Inngest's decoder replaces it with U+FFFD"),
        ("event-over-free-limit", "the event is 270,042 bytes; the Free plan accepts at most "
                                  "262,144")]


def test_item4_at_most_three_findings_name_keys_and_strings() -> None:
    event = {"name": "dodo/x", "id": "i",
             "data": {"a\udc00": "x", "b": ["\ud800", "ok", "z\udfff"], "c": "\ud801"}}
    found = check_payload(event, now_ms=NOW_MS)
    assert [(f.path, f.message) for f in found] == [
        ("/data/a\udc00", "the key at /data/a\udc00 holds a lone UTF-16 surrogate (\\udc00); "
                          "Inngest's decoder replaces it with U+FFFD"),
        ("/data/b/0", "the string at /data/b/0 holds a lone UTF-16 surrogate (\\ud800); "
                      "Inngest's decoder replaces it with U+FFFD"),
        ("/data/b/2", "the string at /data/b/2 holds a lone UTF-16 surrogate (\\udfff); "
                      "Inngest's decoder replaces it with U+FFFD (1 more in this event)")]


# -- 5. Symbol values are json-lossy ----------------------------------------------------------


def test_item5_symbol_values_are_json_lossy() -> None:
    code = ("function handler(w) {\n  w.payload = {name: 'dodo/x', id: 'i',\n"
            "    data: {a: Symbol('x'), b: [Symbol('y')]}};\n  return w;\n}")
    result = isolated(lambda: Transform(code, "t.js").run(PAYMENT))
    assert [(f.code, f.path, f.message) for f in result.findings] == [
        ("json-lossy", "/data/a", "payload/data/a: a symbol: the property is dropped"),
        ("json-lossy", "/data/b/0", "payload/data/b/0: a symbol becomes null")]


# -- 6. a NUL in the code, NaN in a payload ----------------------------------------------


def test_item6_a_nul_inside_a_string_runs() -> None:
    code = ("function handler(w) {\n"
            "  w.payload = {name: 'dodo/x', id: 'i', data: {n: 'a\0b'.length}};\n"
            "  return w;\n}")
    result = isolated(lambda: Transform(code, "t.js").run(PAYMENT))
    assert (result.status, result.findings) == (TransformStatus.OK, [])
    assert result.request is not None and result.request.payload["data"] == {"n": 3}


def test_item6_a_nul_outside_a_string_is_a_syntax_error_at_its_place() -> None:
    result = isolated(lambda: Transform("function handler(w) {\n  return w;\0\n}", "t.js")
                      .run(PAYMENT))
    [error] = result.findings
    assert (error.code, error.line, error.message, error.hint) == (
        "js-syntax", 2, "t.js:2:12: SyntaxError: unexpected token in expression: ''",
        "a NUL character (U+0000) is there, outside any string or comment: remove it, or "
        "write \\0 inside a string")


@pytest.mark.parametrize(("text", "message"), [
    ('{"type": "payment.succeeded",\n "data": {"amount": NaN}}',
     "p.json:2:21: not valid JSON: NaN is not a JSON value"),
    ('{"note": "NaN \\" Infinity", "x": [Infinity]}',
     "p.json:1:35: not valid JSON: Infinity is not a JSON value"),
    ('{"x": -Infinity}', "p.json:1:7: not valid JSON: -Infinity is not a JSON value"),
])
def test_item6_nan_and_infinity_in_a_payload_are_not_valid_json(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_webhook(text.encode(), source="p.json", name="p")
    assert (caught.value.message, caught.value.hint) == (
        message, "JSON has no NaN or Infinity (Python writes them; Dodo never sends them): "
                 "use null or a number")


def test_item6_nan_in_a_payload_file_is_exit_2_naming_the_place(cli: RunCli,
                                                                 tmp_path: Path) -> None:
    payload = tmp_path / "nan.json"
    payload.write_text('{"type": "payment.succeeded", "data": {"total_amount": NaN}}')
    result = cli("run", str(TRANSFORMS / "payment.js"), str(payload), code=2)
    assert result.stderr.splitlines()[0] == (
        f"error: {payload}:1:56: not valid JSON: NaN is not a JSON value")


# -- 7. limits are always on --------------------------------------------------------------


@pytest.mark.parametrize(("choices", "message"), [
    (Choices(memory_limit=1e30), "--memory-limit 1e+30: out of range (1–4,096 MiB)"),
    (Choices(memory_limit=0.0001), "--memory-limit 0.0001: out of range (1–4,096 MiB)"),
    (Choices(memory_limit=1e-300), "--memory-limit 1e-300: out of range (1–4,096 MiB)"),
    (Choices(time_limit=float("inf")), "--time-limit inf: out of range (1–60,000 ms)"),
    (Choices(time_limit=1e30), "--time-limit 1e+30: out of range (1–60,000 ms)"),
    (Choices(time_limit=float("nan")), "--time-limit nan: out of range (1–60,000 ms)"),
])
def test_item7_flag_limits_out_of_range_name_the_flag_and_the_range(
        choices: Choices, message: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        transform_options(load_config(start=tmp_path), choices)
    assert (caught.value.message, caught.value.hint) == (
        message, "the sandbox limits are always on; pick a value in the range")


@pytest.mark.parametrize(("line", "message"), [
    ("stack-limit = 99999999999999999",
     "stack-limit 99999999999999999: out of range (64–4,096 KiB)"),
    ("stack-limit = 1", "stack-limit 1: out of range (64–4,096 KiB)"),
    ("memory-limit = 0.0001", "memory-limit 0.0001: out of range (1–4,096 MiB)"),
    ("time-limit = inf", "time-limit inf: out of range (1–60,000 ms)"),
])
def test_item7_config_limits_out_of_range_name_the_file_and_key(
        line: str, message: str, tmp_path: Path) -> None:
    config_file = tmp_path / "dodo-inngest.toml"
    config_file.write_text(line + "\n")
    with pytest.raises(InputError) as caught:
        transform_options(load_config(config_file), Choices())
    assert caught.value.message == f"{config_file}: {message}"


def test_item7_a_pyproject_limit_names_its_table(tmp_path: Path) -> None:
    config_file = tmp_path / "pyproject.toml"
    config_file.write_text("[tool.dodo-inngest]\nmemory-limit = 5000\n")
    with pytest.raises(InputError) as caught:
        transform_options(load_config(config_file), Choices())
    assert caught.value.message == (
        f"{config_file}: [tool.dodo-inngest] memory-limit 5000: out of range (1–4,096 MiB)")


def test_item7_limits_made_directly_are_checked_too() -> None:
    with pytest.raises(InputError) as caught:
        Limits(stack_kib=16)
    assert caught.value.message == "stack_kib 16: out of range (64–4,096 KiB)"


def test_item7_the_extreme_limits_in_range_run() -> None:
    lowest = isolated(lambda: Transform(
        f"function handler(w) {{\n  {GOOD}\n}}", "t.js",
        limits=Limits(time_ms=1_000, memory_mib=1, stack_kib=64)).run(PAYMENT))
    assert (lowest.status, lowest.findings) == (TransformStatus.OK, [])
    recursion = ("function f(n) { return n ? f(n - 1) + 1 : 0; }\n"
                 f"function handler(w) {{ f(2000); {GOOD} }}")
    deep = isolated(lambda: [Transform(recursion, "t.js", limits=Limits(stack_kib=kib))
                             .run(PAYMENT) for kib in (1024, 4096)])
    assert [_finding_codes(result.findings) for result in deep] == [["js-exception"], []]


def test_item7_the_largest_stack_overflows_into_a_finding_on_a_thread() -> None:
    # The stack QuickJS may use stays inside a thread's own, so a recursion that never ends
    # is a finding, not a crash, where deliveries run on threads (listen, replay).
    from concurrent.futures import ThreadPoolExecutor

    transform = Transform("function f(n) { return f(n + 1) + 1; }\n"
                          "function handler(w) { return f(0); }", "t.js",
                          limits=Limits(stack_kib=4096))

    def on_a_thread() -> list[str]:
        with ThreadPoolExecutor(1) as pool:
            return _finding_codes(pool.submit(transform.run, PAYMENT).result().findings)

    assert isolated(on_a_thread) == ["js-exception"]


def test_item7_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    config_file = tmp_path / "dodo-inngest.toml"
    config_file.write_bytes(b"time-limit = 100 # \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config_file)
    assert (caught.value.message, caught.value.hint) == (
        f"{config_file}: not UTF-8 text (byte 19)",
        "TOML files are UTF-8; save the file as UTF-8")


def test_item7_an_out_of_range_flag_is_exit_2(cli: RunCli) -> None:
    result = cli("run", str(TRANSFORMS / "payment.js"), str(WEBHOOKS / "payment.succeeded.json"),
                 "--memory-limit", "1e30", code=2)
    assert result.stderr == ("error: --memory-limit 1e+30: out of range (1–4,096 MiB)\n"
                             "hint: the sandbox limits are always on; pick a value in the "
                             "range\n")


# -- attacks on the harness itself ------------------------------------------------------------

SPIN = "function () { for (;;) {} }"

# name: (code, the findings of the attack's own delivery; None: it passes with GOOD's payload)
ATTACKS: dict[str, tuple[str, list[tuple[str, str]] | None]] = {
    "defineProperty": (f"Object.defineProperty = {SPIN};\n"
                       f"function handler(w) {{ console.log('x'); setTimeout({SPIN}, 5); "
                       f"{GOOD} }}", None),
    "call-apply-bind": (f"Function.prototype.call = Function.prototype.apply = "
                        f"Function.prototype.bind = {SPIN};\n"
                        f"function handler(w) {{ console.log('x', {{a: 1}}, [2]); {GOOD} }}",
                        None),
    "array-methods": ("['push', 'join', 'slice', 'map', 'filter', 'indexOf', 'concat']"
                      f".forEach(function (m) {{ Array.prototype[m] = {SPIN}; }});\n"
                      f"function handler(w) {{ console.log('x', 'y'); {GOOD} }}", None),
    "String": (f"String = {SPIN}; String.prototype.slice = {SPIN};\n"
               f"function handler(w) {{ console.log(Symbol('s'), 'y'.repeat(20000)); {GOOD} }}",
               None),
    "Error-timeout": (f"Error = {SPIN}; Error.prototype.toString = {SPIN};\n"
                      f"function handler(w) {{ for (;;) {{}} }}", [("js-timeout", TIMEOUT)]),
    "Error-throw": (f"var T = TypeError; Error = {SPIN}; Error.prototype.toString = {SPIN};\n"
                    "function handler(w) { throw new T('boom'); }",
                    [("js-exception", "t.js:2:33: TypeError: boom")]),
    "hasInstance": (f"Object.defineProperty(Error, Symbol.hasInstance, {{value: {SPIN}}});\n"
                    "function handler(w) { throw new Error('x'); }",
                    [("js-exception", "t.js:2:33: Error: x")]),
    "getter-loops": (f"function handler(w) {{ Object.defineProperty(w, 'payload', "
                     f"{{get: {SPIN}, enumerable: true}}); return w; }}",
                     [("js-timeout", TIMEOUT)]),
    "getter-throws": ("function handler(w) {\n  Object.defineProperty(w, 'payload', {get: "
                      "function () { throw new Error('nope'); }, enumerable: true});\n"
                      "  return w;\n}",
                      [("js-exception",
                        "t.js:2:69: the result cannot be serialised to JSON: Error: nope")]),
    "message-getter": ("function handler(w) { var e = new Error('x');\n"
                       f"  Object.defineProperty(e, 'message', {{get: {SPIN}}}); throw e; }}",
                       [("js-timeout", TIMEOUT)]),
    "then-override": (f"Promise.prototype.then = {SPIN};\n"
                      f"async function handler(w) {{ await null; {GOOD} }}", None),
    "then-getter-loops": (f"function handler(w) {{ Object.defineProperty(w, 'then', "
                          f"{{get: {SPIN}}}); return w; }}", [("js-timeout", TIMEOUT)]),
    "then-getter-throws": ("function handler(w) { Object.defineProperty(w, 'then', "
                           "{get: function () { throw new Error('then'); }}); return w; }",
                           [("js-exception", "t.js:1:86: Error: then")]),
    "then-never-settles": ("function handler(w) { return {then: function () {}}; }",
                           [("js-timeout", TIMEOUT)]),
    "then-resolves-a-number": ("function handler(w) { return {then: function (r) { r(42); }}; }",
                               [("js-not-object", "`handler` returned a number, not an object")]),
    "globalThis-frozen": (f"function handler(w) {{ Object.freeze(globalThis); console.log('x'); "
                          f"{GOOD} }}", None),
    "globalThis-sealed": (f"Object.seal(globalThis);\n"
                          f"function handler(w) {{ console.log('x'); {GOOD} }}", None),
    "console-deleted": (f"delete globalThis.console;\n"
                        f"function handler(w) {{ console.log('x'); {GOOD} }}",
                        [("js-exception", "t.js:2:23: ReferenceError: console is not defined")]),
    "globals-replaced": ("globalThis = null; eval = null; JSON = null; Reflect = null; "
                         "Object = null; Array = null;\n"
                         f"function handler(w) {{ console.log('x'); {GOOD} }}", None),
    "proxy-loops": (f"function handler(w) {{ return new Proxy(w, {{get: {SPIN}}}); }}",
                    [("js-timeout", TIMEOUT)]),
    "proxy-ownKeys-throws": ("function handler(w) { return new Proxy(w, {get: function (t, k) "
                             "{ return k === 'then' ? undefined : t[k]; }, ownKeys: function () "
                             "{ throw new Error('keys'); }}); }",
                             [("js-exception", "t.js:1:143: the result cannot be serialised to "
                                               "JSON: Error: keys")]),
    "proxy-revoked": ("function handler(w) { var p = Proxy.revocable({}, {}); p.revoke(); "
                      "return p.proxy; }",
                      [("js-exception", "t.js: TypeError: revoked proxy")]),
    "very-deep": ("function handler(w) { var o = {}, root = o;\n"
                  "  for (var i = 0; i < 20000; i++) { o.a = {}; o = o.a; }\n"
                  "  w.payload = {name: 'dodo/x', id: 'i', data: root}; return w; }",
                  [("js-not-object", "the returned object is nested too deeply to send as JSON")]),
    "toJSON-loops": (f"function handler(w) {{ w.payload = {{toJSON: {SPIN}}}; return w; }}",
                     [("js-timeout", TIMEOUT)]),
    "toJSON-throws": ("function handler(w) {\n  w.toJSON = function () { throw new Error('j'); };"
                      "\n  return w;\n}",
                      [("js-exception",
                        "t.js:2:38: the result cannot be serialised to JSON: Error: j")]),
    "prepareStackTrace": (f"Error.prepareStackTrace = {SPIN};\n"
                          "function handler(w) { throw new Error('x'); }",
                          [("js-timeout", TIMEOUT)]),
    "throw-toString": (f"function handler(w) {{ throw {{toString: {SPIN}}}; }}",
                       [("js-exception", "t.js: uncaught {}")]),
    "throw-toJSON": (f"function handler(w) {{ throw {{toJSON: {SPIN}}}; }}",
                     [("js-timeout", TIMEOUT)]),
    "microtask-throws": (f"function handler(w) {{ queueMicrotask(function () "
                         f"{{ throw {{toString: {SPIN}}}; }}); {GOOD} }}",
                         [("js-exception", "t.js: uncaught {}")]),
    "finalizer-throws": (f"function handler(w) {{\n  var r = new FinalizationRegistry(function () "
                         f"{{ throw {{toString: {SPIN}}}; }});\n"
                         f"  (function () {{ r.register({{}}, 'x'); }})();\n  {GOOD}\n}}",
                         [("js-exception", "t.js: uncaught {}")]),
    "prototype-setters": (f"Object.defineProperty(Object.prototype, 'state', {{set: {SPIN}}});\n"
                          f"Object.defineProperty(Object.prototype, 'payload', {{set: {SPIN}}});\n"
                          f"function handler(w) {{ console.log('x'); {GOOD} }}", None),
    "memory-caught": ("function handler(w) {\n  try { var a = []; for (;;) a.push(new Array(1e5)"
                      f".fill(a.length)); }} catch (e) {{}}\n  {GOOD}\n}}", None),
    "huge-console": (f"function handler(w) {{ for (var i = 0; i < 2000; i++) "
                     f"console.log('x'.repeat(2000)); {GOOD} }}", None),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_an_attack_on_the_harness_is_a_finding_for_its_delivery_only(name: str) -> None:
    code, expected = ATTACKS[name]
    result = attack(code, Limits(time_ms=100))
    if expected is None:
        assert passed_with_good_payload(result), summary(result)
    else:
        assert summary(result) == expected


def test_huge_console_output_keeps_a_million_characters_and_says_so() -> None:
    result = attack(ATTACKS["huge-console"][0])
    assert len(result.console) == 501
    assert result.console[-1] == ConsoleLine(
        "warn", "… 1,500 more console lines dropped (at most 1,000 lines and 1,000,000 "
                "characters are kept)")


def test_a_transform_that_returns_its_own_json_sends_it() -> None:
    result = attack("function handler(w) {\n  w.toJSON = function () {\n"
                    "    return {method: 'POST', url: w.url, payload: {name: 'dodo/' + w.eventType,"
                    " id: 'i', data: {type: w.eventType}}};\n  };\n  return w;\n}")
    assert passed_with_good_payload(result)


# -- the same attacks, 200 times each: memory stays flat, nothing raises --------------------


def _rss_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def _loop_all() -> tuple[int, int, dict[str, set[str]]]:
    limits = Limits(time_ms=5, memory_mib=2)
    transforms = {name: Transform(code, f"{name}.js", limits=limits)
                  for name, (code, _) in ATTACKS.items()}
    seen: dict[str, set[str]] = {name: set() for name in ATTACKS}

    def round_of(count: int) -> None:
        for name, transform in transforms.items():
            for _ in range(count):
                result = transform.run(PAYMENT)
                seen[name].update(f.code for f in result.findings)

    round_of(20)
    warm = _rss_kib()
    round_of(200)
    return warm, _rss_kib(), seen


@pytest.mark.slow
def test_attacks_in_a_loop_keep_memory_flat_and_end_in_findings() -> None:
    warm, after, seen = isolated(_loop_all, seconds=600)
    assert after - warm < 20 * 1024, f"peak RSS grew by {after - warm} KiB"
    allowed = {"js-timeout", "js-memory", "js-exception", "js-not-object", "json-lossy"}
    assert {name: codes - allowed for name, codes in seen.items()} == {
        name: set() for name in ATTACKS}
    assert seen["throw-toString"] == {"js-exception"}


def _finding_codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_the_next_delivery_after_a_timeout_sees_a_fresh_context() -> None:
    code = ("globalThis.seen = (globalThis.seen || 0) + 1;\n"
            "Array.prototype.toJSON = function () { for (;;) {} };\n"
            "function handler(w) {\n"
            "  if (w.eventType === 'payment.succeeded') for (;;) {}\n"
            "  w.payload = {name: 'dodo/x', id: 'i', data: {seen: seen, list: [1]}};\n"
            "  delete Array.prototype.toJSON; return w;\n}")
    first, second = isolated(lambda: [Transform(code, "t.js").run(w) for w in (PAYMENT, REFUND)])
    assert _finding_codes(first.findings) == ["js-timeout"]
    assert second.request is not None
    assert second.request.payload["data"] == {"seen": 1, "list": [1]}
