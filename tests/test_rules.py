"""Every rule code: a case that triggers it, and silence on a valid event."""

from __future__ import annotations

import json

import pytest

from dodo_inngest_cli.inngest import check_payload
from dodo_inngest_cli.models import Result, Status, Webhook
from dodo_inngest_cli.pipeline import Checks, evaluate
from dodo_inngest_cli.rules import RULES, Severity
from dodo_inngest_cli.sandbox import Transform
from dodo_inngest_cli.sources import parse_webhook

from conftest import sample

NOW_MS = 1_780_000_000_000  # 2026-05-28
PAYMENT = sample("payment.succeeded")
VALID = {"name": "dodo/payment.succeeded", "id": "payment.succeeded:pay_1",
         "ts": 1_773_480_413_589, "data": {"payment_id": "pay_1"}}


def handler(body: str) -> str:
    return f"function handler(w) {{\n{body}\n  return w;\n}}"


def emit(event: object) -> str:
    """A transform that sends this payload (JSON)."""
    return handler(f"  w.payload = {json.dumps(event)};")


def event(**changes: object) -> dict[str, object]:
    """The valid event with some fields changed (None removes one)."""
    changed = {**VALID, **changes}
    return {k: v for k, v in changed.items() if v is not None}


TRIGGERS: dict[str, str] = {
    "js-syntax": "function handler(w) {\n  return w\n",
    "js-no-handler": "function handle(w) { return w; }",
    "js-exception": handler("  w.payload.data.nothing.here = 1;"),
    "js-timeout": handler("  for (;;) {}"),
    "js-memory": handler("  const a = []; for (;;) a.push(new Array(1e5).fill(1));"),
    "js-no-output": "function handler(w) { w.payload = {}; }",
    "js-not-object": "function handler(w) { return JSON.stringify(w); }",
    "method-invalid": handler(f"  w.method = 'PATCH'; w.payload = {json.dumps(VALID)};"),
    "url-invalid": handler(f"  w.url = '/e/relative'; w.payload = {json.dumps(VALID)};"),
    "headers-invalid": handler(f"  w.headers = {{'x-n': 1}}; w.payload = {json.dumps(VALID)};"),
    "code-too-long": emit(VALID) + "\n// " + "x" * 51_200,
    "passthrough": handler(""),
    "json-lossy": handler(f"  w.payload = {json.dumps(VALID)}; w.payload.data.total = NaN;"),
    "url-changed": handler(f"  w.url = 'https://inn.gs/e/other'; w.payload = {json.dumps(VALID)};"),
    "cancelled": handler("  w.cancel = true;"),
    "payload-not-event": emit("dodo/payment.succeeded"),
    "name-missing": emit(event(name=None)),
    "name-reserved": emit(event(name="Inngest/function.failed")),
    "name-too-long": emit(event(name="dodo/" + "x" * 251)),
    "data-not-object": emit(event(data=[1, 2])),
    "ts-not-integer": emit(event(ts=1_773_480_413.5)),
    "ts-in-seconds": emit(event(ts=1_773_480_413)),
    "ts-out-of-range": emit(event(ts=4_102_444_800_001)),
    "id-not-string": emit(event(id=42)),
    "v-not-string": emit(event(v=2)),
    "user-not-object": emit(event(user="someone@example.com")),
    "meta-invalid": emit(event(meta={"sessions": {f"k{i}": i for i in range(6)}})),
    "event-too-large": handler(f"  w.payload = {json.dumps(VALID)};\n"
                               "  w.payload.data.blob = 'x'.repeat(3 * 1024 * 1024);"),
    "batch-empty": emit([]),
    "batch-too-large": handler(f"  w.payload = Array(5001).fill({json.dumps(VALID)});"),
    "event-over-free-limit": handler(f"  w.payload = {json.dumps(VALID)};\n"
                                     "  w.payload.data.blob = 'x'.repeat(300 * 1024);"),
    "id-missing": emit(event(id=None)),
    "ts-future": emit(event(ts=NOW_MS + 3_600_000)),
    "data-missing": emit(event(data=None)),
    "data-reserved-key": emit(event(data={"_inngest": {}, "a": 1})),
    "user-deprecated": emit(event(user={"email": "a@example.com"})),
    "lone-surrogate": handler(f"  w.payload = {json.dumps(VALID)};\n"
                              "  w.payload.data.name = '\\u{1F600}abc'.slice(0, 1);"),
    "name-style": emit(event(name="PaymentSucceeded")),
}


# Rules about the Dodo body itself: a payload that triggers each.
INPUT_TRIGGERS: dict[str, Webhook] = {
    "dodo-unknown-type": parse_webhook(
        PAYMENT.body.replace('"type": "payment.succeeded"', '"type": "payment.succeded"').encode(),
        source="typo.json", name="typo"),
    "dodo-schema": parse_webhook(
        PAYMENT.body.replace('"total_amount": 4999', '"total_amount": "49.99"').encode(),
        source="amount.json", name="amount"),
}


def check(code: str, webhook: Webhook = PAYMENT) -> Result:
    return evaluate(Transform(code, "t.js"), webhook, Checks(now_ms=NOW_MS))


def test_every_rule_has_a_trigger() -> None:
    from test_expect import EXPECTATION_RULES
    from test_functions import FUNCTION_RULES
    from test_hostile import SENDING_RULES

    assert sorted([*TRIGGERS, *INPUT_TRIGGERS, *EXPECTATION_RULES, *FUNCTION_RULES,
                   *SENDING_RULES]) == sorted(RULES)


@pytest.mark.parametrize("code", sorted(INPUT_TRIGGERS))
def test_input_rule_triggers_as_a_warning(code: str) -> None:
    result = check(emit(VALID), INPUT_TRIGGERS[code])
    assert [f.code for f in result.findings] == [code]
    assert result.status is Status.PASSED


def test_dodo_messages_name_the_path_and_the_sdk() -> None:
    from dodo_inngest_cli.dodo import sdk_version

    typo = check(emit(VALID), INPUT_TRIGGERS["dodo-unknown-type"]).findings[0]
    assert typo.message == (f"the payload's event type is 'payment.succeded'; dodopayments "
                            f"{sdk_version()} knows 48 types")
    schema = check(emit(VALID), INPUT_TRIGGERS["dodo-schema"]).findings[0]
    assert (schema.path, schema.message) == (
        "/data/total_amount", f"the payload at /data/total_amount: Input should be a valid "
                              f"integer (dodopayments {sdk_version()}, payment.succeeded)")


def test_no_dodo_check_skips_the_official_models() -> None:
    result = evaluate(Transform(emit(VALID), "t.js"), INPUT_TRIGGERS["dodo-schema"],
                      Checks(now_ms=NOW_MS, dodo_check=False))
    assert result.findings == []


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_rule_triggers(code: str) -> None:
    result = check(TRIGGERS[code])
    found = [f.code for f in result.findings]
    assert code in found
    if code != "code-too-long":
        assert "code-too-long" not in found
    expected = {Severity.ERROR: {Status.FAILED, Status.ERROR},
                Severity.WARNING: {Status.PASSED}, Severity.INFO: {Status.PASSED,
                                                                   Status.CANCELLED}}
    assert result.status in expected[RULES[code].severity]


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_is_silent_on_a_valid_event(code: str) -> None:
    result = check(emit(VALID))
    assert code not in [f.code for f in result.findings]
    assert result.status is Status.PASSED


def test_valid_event_has_no_findings_at_all() -> None:
    assert check_payload(VALID, now_ms=NOW_MS) == []
    assert check_payload([VALID, VALID], now_ms=NOW_MS) == []


def test_ts_in_seconds_names_the_value_both_dates_and_the_fix() -> None:
    [found] = check_payload(event(ts=1_773_480_413), now_ms=NOW_MS)
    assert found.path == "/ts"
    assert found.message == (
        "ts 1773480413 is in seconds: as milliseconds, which Inngest reads, it is "
        "1970-01-21T12:38:00.413Z, and Inngest rejects it ('timestamp is before Jan 1, 1980'); "
        "as seconds it is 2026-03-14T09:26:53.000Z")
    assert found.hint == ("Inngest wants milliseconds: multiply by 1000, or drop the '/ 1000' "
                          "from Math.floor(new Date(…).getTime() / 1000)")


def test_batch_findings_point_into_the_array() -> None:
    found = check_payload([VALID, event(ts=1_773_480_413), "x"], now_ms=NOW_MS)
    assert [(f.code, f.path) for f in found] == [("ts-in-seconds", "/1/ts"),
                                                 ("payload-not-event", "/2")]


def test_ts_zero_and_null_mean_now_like_inngest() -> None:
    assert check_payload(event(ts=0), now_ms=NOW_MS) == []
    assert check_payload({**VALID, "ts": None}, now_ms=NOW_MS) == []


def test_ignore_drops_the_code_and_strict_fails_on_warnings() -> None:
    code = emit(event(id=None))
    assert evaluate(Transform(code, "t.js"), PAYMENT, Checks(now_ms=NOW_MS)).status \
        is Status.PASSED
    strict = evaluate(Transform(code, "t.js"), PAYMENT, Checks(strict=True, now_ms=NOW_MS))
    assert strict.status is Status.FAILED
    ignored = evaluate(Transform(code, "t.js"), PAYMENT,
                       Checks(ignore=frozenset({"id-missing"}), strict=True, now_ms=NOW_MS))
    assert (ignored.status, ignored.findings) == (Status.PASSED, [])


def test_json_lossy_names_each_lost_value() -> None:
    result = check(handler(
        f"  w.payload = {json.dumps(VALID)};\n"
        "  w.payload.data.a = undefined; w.payload.data.b = [Infinity, () => 1];\n"
        "  w.payload.data.c = new Date('nonsense');"))
    assert [(f.path, f.message) for f in result.findings] == [
        ("/data/a", "payload/data/a: undefined: the property is dropped"),
        ("/data/b/0", "payload/data/b/0: Infinity becomes null"),
        ("/data/b/1", "payload/data/b/1: a function becomes null"),
        ("/data/c", "payload/data/c: an Invalid Date becomes null"),
    ]
