"""Field reads: what the sandbox records, what the official model says, what breaks."""

from __future__ import annotations

import pytest

from dodo_inngest_cli.fields import FieldSpec, field_spec, read_fields
from dodo_inngest_cli.models import TransformStatus
from dodo_inngest_cli.pipeline import Checks, evaluate
from dodo_inngest_cli.sandbox import Transform

from conftest import sample

PAYMENT = sample("payment.succeeded")
EVENT = "w.payload = {name: 'dodo/x', id: 'i', ts: 1773480413589, data: {v: v}};"


def reads(code: str) -> tuple[str, ...] | None:
    return Transform(code, "t.js").run(PAYMENT, track_reads=True).reads


def test_reads_are_json_pointers_in_first_read_order() -> None:
    assert reads("function handler(w) { const d = w.payload.data;\n"
                 "  const v = [d.customer.email, d.customer.email, w.payload.timestamp,\n"
                 "    d.product_cart.map(i => i.product_id), 'tax' in d, Object.keys(d.metadata)];"
                 f"\n  {EVENT} return w; }}") == (
        "/data", "/data/customer", "/data/customer/email", "/timestamp", "/data/product_cart",
        "/data/product_cart/*", "/data/product_cart/*/product_id", "/data/tax",
        "/data/metadata")


def test_the_proxy_keeps_identity_and_array_behaviour() -> None:
    result = Transform("function handler(w) { const d = w.payload.data;\n"
                       "  const v = [d === w.payload.data, Array.isArray(d.product_cart),\n"
                       "    JSON.stringify(d.customer).length > 2];\n"
                       f"  {EVENT} return w; }}", "t.js").run(PAYMENT, track_reads=True)
    assert result.request is not None
    assert result.request.payload["data"] == {"v": [True, True, True]}


def test_async_reads_count_and_reads_after_the_result_do_not() -> None:
    assert reads("async function handler(w) { await null; const v = w.payload.type;\n"
                 f"  {EVENT} return w; }}") == ("/type",)
    assert reads("function handler(w) { return w; }") == ()  # passed through: serialised later


def test_reads_before_an_exception_are_kept_and_untracked_runs_have_none() -> None:
    failing = Transform("function handler(w) { return w.payload.data.nope.x; }", "t.js")
    result = failing.run(PAYMENT, track_reads=True)
    assert (result.status, result.reads) == (TransformStatus.ERROR,
                                             ("/data", "/data/nope"))
    assert failing.run(PAYMENT).reads is None
    assert Transform("function handler(w) {", "t.js").run(PAYMENT, track_reads=True).reads == ()


@pytest.mark.parametrize(("path", "spec"), [
    ("/data/customer/email", FieldSpec(True)),
    ("/data/payment_method", FieldSpec(True, nullable=True, optional=True)),
    ("/data/product_cart/*/product_id", FieldSpec(True)),
    ("/data/metadata/order_id", FieldSpec(True, optional=True)),
    ("/data/customer/nickname", FieldSpec(False)),
    ("/timestamp", FieldSpec(True)),
])
def test_field_specs_come_from_the_official_model(path: str, spec: FieldSpec) -> None:
    assert field_spec("payment.succeeded", path) == spec


def test_reads_are_judged_by_running_with_the_field_null_and_absent() -> None:
    fragile = Transform("function handler(w) { const d = w.payload.data;\n"
                        "  const v = [d.tax ?? 0, d.payment_method.length, d.customer.email,\n"
                        "    d.refunds.length];\n"
                        f"  {EVENT} return w; }}", "fragile.js")
    found = read_fields(fragile, PAYMENT, Checks(), evaluate(fragile, PAYMENT, Checks()))
    assert [(r.name, r.spec.describe(), r.guarded, [(b.when, b.code) for b in r.breaks])
            for r in found] == [
        ("data.tax", "optional, nullable", True, []),
        ("data.payment_method", "optional, nullable", False,
         [("null", "js-exception"), ("absent", "js-exception")]),
        ("data.customer.email", "required", None, []),
        ("data.refunds", "required", None, []),
    ]
    assert found[1].breaks[0].message == \
        "fragile.js:2:26: TypeError: cannot read property 'length' of null"


def test_a_field_the_model_lacks_is_judged_by_its_absence() -> None:
    dispute = sample("dispute.opened")
    code = ("function handler(w) { const v = w.payload.data.customer.email;\n"
            f"  {EVENT} return w; }}")
    transform = Transform(code, "t.js")
    [read] = read_fields(transform, dispute, Checks(), evaluate(transform, dispute, Checks()))
    assert (read.name, read.spec.describe(), read.guarded, [b.when for b in read.breaks]) == (
        "data.customer", "not in the model", False, ["absent"])
