"""The QuickJS sandbox: Svix semantics, isolation, limits, and errors with JS line numbers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dodo_inngest_cli.models import ConsoleLine, TransformResult, TransformStatus, Webhook
from dodo_inngest_cli.sandbox import DEFAULT_ENDPOINT_URL, Limits, Transform

from conftest import sample

PAYMENT = sample("payment.succeeded")

EVENT = (
    "w.payload = {name: 'dodo/' + w.eventType, id: 'x', data: {}, "
    "ts: new Date(w.payload.timestamp).getTime()};"
)


def run(code: str, webhook: Webhook = PAYMENT, **options: Any) -> TransformResult:
    return Transform(code, "t.js", **options).run(webhook)


def data(result: TransformResult) -> Any:
    """The outgoing event's data."""
    assert result.request is not None, result.findings
    return result.request.payload["data"]


def codes(result: TransformResult) -> list[str]:
    return [f.code for f in result.findings]


def test_handler_sees_the_svix_webhook_object() -> None:
    result = Transform(
        "function handler(w) {\n"
        "  w.payload = {name: 'dodo/x', data: {method: w.method, url: w.url,\n"
        "    eventType: w.eventType, env: w.env, business: w.payload.business_id,\n"
        "    params: w.transformationsParams}};\n"
        "  return w;\n"
        "}", "t.js", env={"REGION": "eu"}).run(PAYMENT)
    assert result.request is not None
    assert data(result) == {
        "method": "POST", "url": DEFAULT_ENDPOINT_URL, "eventType": "payment.succeeded",
        "env": {"REGION": "eu"}, "business": "bus_2Nv8cQxV6tB3kLm9WpR4", "params": {}}


def test_es2023_syntax_runs() -> None:
    result = run(
        "function handler(w) {\n"
        "  const d = w.payload.data;\n"
        "  w.payload = {name: 'dodo/x', id: 'i', data: {\n"
        "    last: [1, 2, 3].at(-1), phone: d.customer?.phone_number ?? 'none',\n"
        "    own: Object.hasOwn(d, 'payment_id'),\n"
        "    when: new Date('March 7, 2024').getFullYear()}};\n"
        "  return w;\n"
        "}")
    assert data(result) == {
        "last": 3, "phone": "+4915112345678", "own": True, "when": 2024}


def test_console_lines_are_captured_in_order_with_levels() -> None:
    result = run(
        "function handler(w) {\n"
        "  console.log('type', w.eventType); console.warn({a: 1}); console.error([1, 'x']);\n"
        "  console.info(undefined); console.debug(null);\n"
        f"  {EVENT}\n  return w;\n}}")
    assert result.console == [
        ConsoleLine("log", "type payment.succeeded"), ConsoleLine("warn", '{"a":1}'),
        ConsoleLine("error", '[1,"x"]'), ConsoleLine("info", "undefined"),
        ConsoleLine("debug", "null")]


def test_no_fetch_require_or_process() -> None:
    result = run(
        "function handler(w) {\n"
        "  w.payload = {name: 'dodo/x', id: 'i', data: {fetch: typeof fetch,\n"
        "    require: typeof require, process: typeof process, std: typeof std}};\n"
        "  return w;\n}")
    assert data(result) == {
        "fetch": "undefined", "require": "undefined", "process": "undefined",
        "std": "undefined"}


def test_async_handler_with_timers_is_awaited() -> None:
    result = run(
        "async function handler(w) {\n"
        "  const order = [];\n"
        "  const t = setTimeout(() => order.push('cleared'), 5);\n"
        "  clearTimeout(t);\n"
        "  await new Promise(r => setTimeout(() => { order.push('late'); r(); }, 20));\n"
        "  await new Promise(r => setTimeout(() => { order.push('early'); r(); }, 10));\n"
        "  w.payload = {name: 'dodo/x', id: 'i', data: {order}};\n"
        "  return w;\n}")
    assert result.status is TransformStatus.OK
    assert data(result) == {"order": ["late", "early"]}


def test_globals_do_not_leak_between_deliveries() -> None:
    transform = Transform(
        "globalThis.count = (globalThis.count || 0) + 1;\n"
        "function handler(w) {\n"
        "  globalThis.seen = (globalThis.seen || 0) + 1;\n"
        "  w.payload = {name: 'dodo/x', id: 'i', data: {count, seen}};\n"
        "  return w;\n}", "t.js")
    first, second = transform.run(PAYMENT), transform.run(PAYMENT)
    assert first.request is not None and second.request is not None
    assert first.request.payload["data"] == {"count": 1, "seen": 1}
    assert second.request.payload["data"] == {"count": 1, "seen": 1}


def test_payload_mutation_does_not_reach_the_next_delivery() -> None:
    transform = Transform(
        "function handler(w) { w.payload.data.total_amount += 1;\n"
        "  w.payload = {name: 'dodo/x', id: 'i', data: {t: w.payload.data.total_amount}};\n"
        "  return w; }", "t.js")
    assert data(transform.run(PAYMENT)) == {"t": 5000}
    assert data(transform.run(PAYMENT)) == {"t": 5000}


def test_url_method_and_headers_changes_shape_the_request() -> None:
    result = Transform(
        "function handler(w) {\n"
        "  w.url = 'https://inn.gs/e/' + w.env.KEY; w.method = 'PUT';\n"
        "  w.headers = {'x-inngest-env': 'staging'};\n"
        f"  {EVENT}\n  w.eventType = 'changed'; w.env = null;\n  return w;\n}}",
        "t.js", env={"KEY": "abcdefghijkl"}, endpoint_headers={"x-team": "billing"}).run(PAYMENT)
    assert result.request is not None
    assert (result.request.method, result.request.url) == ("PUT", "https://inn.gs/e/abcdefghijkl")
    assert result.request.headers == {"x-team": "billing", "x-inngest-env": "staging"}
    assert [f.code for f in result.findings] == ["url-changed"]


def test_cancel_is_reported_and_keeps_the_payload() -> None:
    result = run("function handler(w) { w.cancel = true; return w; }")
    assert result.status is TransformStatus.CANCELLED
    assert codes(result) == ["cancelled"]


def test_syntax_error_reports_line_and_column() -> None:
    result = Transform("function handler(w) {\n  let x = ;\n  return w;\n}", "pay.js").run(PAYMENT)
    assert result.status is TransformStatus.ERROR
    [error] = result.findings
    assert error.code == "js-syntax"
    assert error.line == 2
    assert error.message == "pay.js:2:11: SyntaxError: unexpected token in expression: ';'"


def test_thrown_error_reports_line_message_and_stack() -> None:
    result = Transform(
        "function pick(d) {\n  return d.customer.address.city;\n}\n"
        "function handler(w) {\n  pick(w.payload.data);\n  return w;\n}", "pay.js").run(PAYMENT)
    [error] = result.findings
    assert error.code == "js-exception"
    assert error.line == 2
    assert error.message == (
        "pay.js:2:10: TypeError: cannot read property 'city' of undefined")
    assert result.stack == "    at pick (pay.js:2:10)\n    at handler (pay.js:5:8)"


def test_json_parse_error_inside_handler_is_an_exception_not_syntax() -> None:
    result = run("function handler(w) {\n  JSON.parse('{');\n  return w;\n}")
    assert codes(result) == ["js-exception"]
    assert result.findings[0].line == 2


def test_rejected_promise_is_an_exception_with_its_line() -> None:
    result = run("async function handler(w) {\n  await null;\n  throw new Error('late');\n}")
    [error] = result.findings
    assert (error.code, error.line) == ("js-exception", 3)
    assert error.message == "t.js:3:13: Error: late"


def test_thrown_non_error_value() -> None:
    result = run("function handler(w) { throw {reason: 'nope'}; }")
    assert [f.message for f in result.findings] == [
        't.js: uncaught {"reason":"nope"}']


@pytest.mark.parametrize(("name", "code", "expected"), [
    ("infinite-loop", "function handler(w) { while (true) {} }", "js-timeout"),
    ("endless-allocation",
     "function handler(w) { const a = []; while (true) a.push(new Array(1e5).fill(a.length)); }",
     "js-memory"),
    ("endless-recursion", "function f(n) { return f(n + 1) + 1; }\n"
                          "function handler(w) { return f(0); }", "js-exception"),
    ("never-settles", "async function handler(w) { await new Promise(() => {}); return w; }",
     "js-timeout"),
    ("long-timer", "async function handler(w) {\n"
                   "  await new Promise(r => setTimeout(r, 5000)); return w; }", "js-timeout"),
    ("top-level-loop", "while (true) {}\nfunction handler(w) { return w; }", "js-timeout"),
])
def test_runaway_scripts_end_in_a_finding_and_the_next_delivery_runs(
        name: str, code: str, expected: str) -> None:
    started = time.perf_counter()
    bad = Transform(code, f"{name}.js").run(PAYMENT)
    elapsed = time.perf_counter() - started
    assert bad.status is TransformStatus.ERROR
    assert codes(bad) == [expected]
    assert elapsed < 5  # bounded: the limit is 100 ms; generous for a loaded machine
    good = run(f"function handler(w) {{ {EVENT} return w; }}")
    assert good.status is TransformStatus.OK


def test_time_limit_is_configurable() -> None:
    code = ("function handler(w) { const end = Date.now() + 400; while (Date.now() < end) {}\n"
            f"  {EVENT} return w; }}")
    assert codes(run(code)) == ["js-timeout"]
    assert codes(run(code, limits=Limits(time_ms=2000))) == []


def test_memory_limit_is_configurable() -> None:
    code = ("function handler(w) { const big = 'x'.repeat(8 * 1024 * 1024);\n"
            f"  {EVENT} w.payload.data.n = big.length; return w; }}")
    assert codes(run(code, limits=Limits(memory_mib=4))) == ["js-memory"]
    assert codes(run(code)) == []


def test_timeout_keeps_console_lines_logged_before_it() -> None:
    result = run("function handler(w) { console.log('starting'); while (true) {} }")
    assert result.console == [ConsoleLine("log", "starting")]


def test_deeply_nested_result_is_a_finding_not_a_crash() -> None:
    result = run("function handler(w) { let o = {}; const root = o;\n"
                 "  for (let i = 0; i < 3000; i++) { o.a = {}; o = o.a; }\n"
                 "  w.payload = {name: 'dodo/x', id: 'i', data: root}; return w; }")
    assert (result.status, codes(result)) == (TransformStatus.ERROR, ["js-not-object"])
    assert result.findings[0].message == "the returned object is nested too deeply to send as JSON"


def test_payload_text_cannot_confuse_the_harness() -> None:
    body = ('{"type": "payment.succeeded", "timestamp": "2026-03-14T09:26:53Z", '
            '"data": {"state": null, "lost": true, "out": "}"}}')
    webhook = Webhook(payload=json.loads(body), body=body, source="x.json", name="x")
    result = run("function handler(w) { w.payload = {name: 'dodo/x', id: 'i', "
                 "data: w.payload.data}; return w; }", webhook)
    assert (result.status, result.findings) == (TransformStatus.OK, [])
    assert data(result) == {"state": None, "lost": True, "out": "}"}


def test_globals_the_code_does_not_name_are_absent() -> None:
    # The lean harness: code that names none of console, setTimeout, clearTimeout,
    # queueMicrotask, FinalizationRegistry gets none of them.
    code = ("function handler(w) {\n  const g = globalThis;\n"
            "  w.payload = {name: 'dodo/x', id: 'i', data: {c: typeof g['con' + 'sole'],\n"
            "    t: typeof g['set' + 'Timeout'], q: typeof g['queue' + 'Microtask']}};\n"
            "  return w;\n}")
    assert data(run(code)) == {"c": "undefined", "t": "undefined", "q": "undefined"}
    assert data(run(code + "\n// uses console")) == {
        "c": "object", "t": "function", "q": "function"}


def test_queue_microtask_and_finalization_registry_work() -> None:
    result = run(
        "async function handler(w) {\n  const order = [];\n"
        "  queueMicrotask(() => order.push('micro'));\n"
        "  const registry = new FinalizationRegistry(held => order.push(held));\n"
        "  (function () { registry.register({}, 'finalized'); })();\n"
        "  await new Promise(r => setTimeout(r, 5));\n"
        "  w.payload = {name: 'dodo/x', id: 'i', data: {order,\n"
        "    kind: registry instanceof FinalizationRegistry}};\n  return w;\n}")
    assert data(result) == {"order": ["micro", "finalized"], "kind": True}


def test_assigning_a_lazy_global_replaces_it() -> None:
    result = run("console = {log: function () { globalThis.logged = true; }};\n"
                 "function handler(w) { console.log('x');\n"
                 "  w.payload = {name: 'dodo/x', id: 'i', data: {logged: globalThis.logged,\n"
                 "    own: Object.keys(globalThis).includes('console')}}; return w; }")
    assert (data(result), result.console) == ({"logged": True, "own": True}, [])


def test_a_top_level_throw_is_an_exception_at_load_with_its_line() -> None:
    result = Transform("const x = 1;\nthrow new Error('at load');\nfunction handler(w) {}",
                       "load.js").run(PAYMENT)
    [error] = result.findings
    assert (error.code, error.message, error.line) == (
        "js-exception", "load.js:2:11: Error: at load", 2)
