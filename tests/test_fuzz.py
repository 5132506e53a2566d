"""Fuzzing: generated Dodo payloads (valid under the official models), failures reduced."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Annotated, Any
from xml.etree import ElementTree

import pytest
from pydantic import BaseModel, Field

from dodo_inngest_cli import generate
from dodo_inngest_cli.cancel import Cancel, Interrupted
from dodo_inngest_cli.dodo import event_models
from dodo_inngest_cli.errors import InputError
from dodo_inngest_cli.fuzz import fuzz, sample_body
from dodo_inngest_cli.models import TransformResult, TransformStatus, Webhook
from dodo_inngest_cli.pipeline import Checks
from dodo_inngest_cli.rules import finding
from dodo_inngest_cli.sandbox import Limits, Transform
from dodo_inngest_cli.shrink import closest_to

from conftest import TRANSFORMS, RunCli

pytestmark = pytest.mark.slow  # seconds of generation: out of the quick loop

FRAGILE = (TRANSFORMS / "payment.js").read_text().replace(
    "payment_method: p.payment_method ?? null,",
    "payment_method: p.payment_method.toUpperCase(),")


def draw(event_type: str, count: int, seed: int) -> list[dict[str, Any]]:
    """The first `count` payloads of a run seeded `seed`."""
    return [generate.payload(event_type, seed, index)[0] for index in range(count)]


@pytest.mark.parametrize("event_type", sorted(event_models()))
def test_the_generator_draws_only_payloads_the_official_model_accepts(event_type: str) -> None:
    model = event_models()[event_type]
    draw_body = generate.body_draw(event_type)
    for index in range(60):
        payload = draw_body(random.Random(f"raw/{index}"))
        model.model_validate_json(json.dumps(payload), strict=True)
    model.model_validate_json(json.dumps(generate.simplest_body(event_type)), strict=True)


def test_every_payload_of_a_run_is_valid_under_the_official_model() -> None:
    model = event_models()["payment.succeeded"]
    for payload, text in (generate.payload("payment.succeeded", 5, i) for i in range(500)):
        assert json.loads(text) == payload
        model.model_validate_json(text, strict=True)


def test_generation_covers_the_edges() -> None:
    payloads = draw("payment.succeeded", 1000, 2)
    data = [p["data"] for p in payloads]
    assert any("payment_method" not in d for d in data)
    assert any(d.get("payment_method", "") is None for d in data)
    currency = event_models()["payment.succeeded"].model_fields["data"].annotation \
        .model_fields["currency"].annotation
    assert {d["currency"] for d in data} | {d["settlement_currency"] for d in data} \
        == set(currency.__args__)
    names = [d["customer"]["name"] for d in data]
    assert set(generate.EDGE_STRINGS) <= set(names)
    assert any(any(ord(c) > 0xFFFF for c in name) for name in names)
    assert any(any(ord(c) < 32 for c in name) for name in names)
    assert set(generate.EDGE_INTS) <= {d["total_amount"] for d in data}
    stamps = [p["timestamp"] for p in payloads]
    for moment in generate.EDGE_MOMENTS:
        assert any(stamp.startswith(moment.isoformat(timespec="seconds")) for stamp in stamps)
    assert {stamp[-6:] for stamp in stamps} >= {"+05:30", "-08:00"}
    assert any(stamp.endswith("Z") for stamp in stamps)
    assert {len(stamp.split("T")[1].rstrip("Z").split("+")[0].split("-")[0])
            for stamp in stamps} == {8, 12, 15}


def test_the_same_seed_gives_the_same_payloads_and_findings() -> None:
    assert draw("dispute.opened", 50, 9) == draw("dispute.opened", 50, 9)
    assert draw("dispute.opened", 50, 9) != draw("dispute.opened", 50, 10)
    transform = Transform(FRAGILE, "fragile.js")
    first = fuzz(transform, "payment.succeeded", examples=60, seed=4, checks=Checks())
    second = fuzz(transform, "payment.succeeded", examples=60, seed=4, checks=Checks())
    assert first.to_json() == second.to_json()
    assert first.tried == 60 and first.failures["js-exception"] > 0


def test_worker_processes_find_what_one_process_finds() -> None:
    sample = sample_body("payment.succeeded")
    assert sample is not None
    transform = Transform(FRAGILE, "fragile.js")
    alone = fuzz(transform, "payment.succeeded", examples=150, seed=6, checks=Checks(),
                 baseline=sample.payload, workers=1)
    shared = fuzz(transform, "payment.succeeded", examples=150, seed=6, checks=Checks(),
                  baseline=sample.payload, workers=2)
    assert alone.to_json() == shared.to_json()


def test_a_fragile_transform_is_reduced_to_the_one_change_that_breaks_it() -> None:
    sample = sample_body("payment.succeeded")
    assert sample is not None
    report = fuzz(Transform(FRAGILE, "fragile.js"), "payment.succeeded", examples=150, seed=3,
                  checks=Checks(), baseline=sample.payload)
    assert list(report.failures) == ["js-exception"]
    [reproducer] = report.reproducers
    shown = [str(change) for change in reproducer.changes]
    assert shown in (['- /data/payment_method: "card"'],
                     ['~ /data/payment_method: "card" → null'])
    cause = "undefined" if shown[0].startswith("-") else "null"
    assert reproducer.message == (
        f"fragile.js:25:23: TypeError: cannot read property 'toUpperCase' of {cause}")


def test_without_a_sample_a_failure_is_reduced_to_the_plainest_payload() -> None:
    report = fuzz(Transform(FRAGILE, "fragile.js"), "payment.succeeded", examples=30, seed=3,
                  checks=Checks())
    [reproducer] = report.reproducers
    assert reproducer.payload == generate.simplest_body("payment.succeeded")
    assert reproducer.changes == []


def test_two_throw_sites_are_two_reproducers_each_reduced_alone() -> None:
    code = ("function handler(w) { var d = w.payload.data;\n"
            "  if (d.customer.name.length > 200) throw new Error('long name');\n"
            "  if (d.tax === null) throw new Error('no tax');\n"
            "  w.payload = {name: 'dodo/p', data: {}, id: 'x', ts: 1767225600000};\n"
            "  return w; }")
    sample = sample_body("payment.succeeded")
    assert sample is not None
    report = fuzz(Transform(code, "two.js"), "payment.succeeded", examples=200, seed=1,
                  checks=Checks(), baseline=sample.payload)
    assert list(report.failures) == ["js-exception"]
    long_name, no_tax = report.reproducers
    assert long_name.message.startswith("two.js:2:")
    assert long_name.message.endswith(": Error: long name")
    assert [c.path for c in long_name.changes] == ["/data/customer/name"]
    assert 200 < len(long_name.payload["data"]["customer"]["name"]) <= 400
    assert no_tax.message.startswith("two.js:3:")
    assert no_tax.message.endswith(": Error: no tax")
    assert [str(c) for c in no_tax.changes] == ["~ /data/tax: 833 → null"]


def test_a_failure_that_does_not_happen_again_keeps_what_it_was_found_with() -> None:
    code = ("function handler(w) { if (Math.random() < 0.05) throw new Error('flaky');\n"
            "  w.payload = {name: 'dodo/p', data: {}, id: 'x', ts: 1767225600000};\n"
            "  return w; }")
    sample = sample_body("payment.succeeded")
    assert sample is not None
    report = fuzz(Transform(code, "flaky.js"), "payment.succeeded", examples=300, seed=1,
                  checks=Checks(), baseline=sample.payload)
    [reproducer] = report.reproducers
    assert reproducer.message.endswith(": Error: flaky")


class Busy(Transform):
    """Runs out of time on every other run, as on a machine too busy to run it in time."""

    runs = 0

    def run(self, webhook: Webhook, *, track_reads: bool = False) -> TransformResult:
        self.runs += 1
        if self.runs % 2:
            return TransformResult(TransformStatus.ERROR, None, [finding(
                "js-timeout", "the transform ran past the 100 ms time limit")], [], 100.0)
        return super().run(webhook, track_reads=track_reads)


def test_a_time_limit_hit_once_is_not_a_failure() -> None:
    busy = Busy(FRAGILE.replace(".toUpperCase()", ""), "busy.js")
    report = fuzz(busy, "payment.succeeded", examples=20, seed=1, checks=Checks())
    assert (report.failures, busy.runs) == ({}, 40)


def test_a_transform_that_runs_out_of_time_is_reduced_to_what_makes_it_loop() -> None:
    code = ("function handler(w) { if (w.payload.data.tax === null) while (true) {}\n"
            "  w.payload = {name: 'dodo/p', data: {}, id: 'x', ts: 1767225600000};\n"
            "  return w; }")
    sample = sample_body("payment.succeeded")
    assert sample is not None
    report = fuzz(Transform(code, "loop.js", limits=Limits(time_ms=20.0)),
                  "payment.succeeded", examples=40, seed=1, checks=Checks(),
                  baseline=sample.payload)
    [reproducer] = report.reproducers
    assert reproducer.code == "js-timeout"
    assert [str(c) for c in reproducer.changes] == ["~ /data/tax: 833 → null"]


def test_closest_to_keeps_only_the_differences_that_matter() -> None:
    sample = {"a": 1, "b": "card", "items": [{"q": 1}, {"q": 2}], "o": {"x": 1, "y": [1]}}
    failing = {"a": 7, "items": [{"q": 5}], "o": {"x": 2, "z": True}, "extra": "e"}
    checked: list[Any] = []

    def still_fails(payload: dict[str, Any]) -> bool:
        checked.append(json.dumps(payload))
        return "b" not in payload and payload["o"].get("z") is True

    minimal = closest_to(sample, failing, still_fails)
    assert minimal == {"a": 1, "items": [{"q": 1}, {"q": 2}], "o": {"x": 1, "y": [1],
                                                                      "z": True}}
    assert failing["a"] == 7  # the caller's payload is left alone
    assert len(checked) < 40


def test_closest_to_shortens_and_shrinks_what_must_stay_changed() -> None:
    sample = {"name": "Lena", "amount": 10, "tags": []}
    failing = {"name": "x" * 1000, "amount": 50_000, "tags": ["a", "b", "c"]}
    minimal = closest_to(sample, failing, lambda p: len(p["name"]) > 20 and p["amount"] > 100
                         and len(p["tags"]) >= 2)
    assert 20 < len(minimal["name"]) <= 40
    assert 100 < minimal["amount"] <= 200
    assert len(minimal["tags"]) == 2


class After(Cancel):
    """A token set at its nth check."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.checks = n, 0

    def check(self) -> None:
        self.checks += 1
        if self.checks >= self.n:
            self.set()
        super().check()


def test_fuzz_stops_within_one_payload_of_a_cancel() -> None:
    transform = Transform(FRAGILE, "fragile.js")
    while_exploring = After(5)
    with pytest.raises(Interrupted):
        fuzz(transform, "payment.succeeded", examples=100, seed=1, checks=Checks(),
             cancel=while_exploring)
    assert while_exploring.checks == 5
    sample = sample_body("payment.succeeded")
    assert sample is not None
    while_reducing = After(100 + 3)  # 100 payloads, the sample, then the reduction's 2nd try
    with pytest.raises(Interrupted):
        fuzz(transform, "payment.succeeded", examples=100, seed=1, checks=Checks(),
             cancel=while_reducing, baseline=sample.payload, workers=1)
    assert while_reducing.checks == 103


def test_a_cancel_stops_the_worker_processes() -> None:
    cancel = After(3)  # the parent checks while it waits for the workers' results
    started = time.perf_counter()
    with pytest.raises(Interrupted):
        fuzz(Transform(FRAGILE, "fragile.js"), "payment.succeeded", examples=200_000, seed=1,
             checks=Checks(), cancel=cancel, workers=2)
    assert time.perf_counter() - started < 20  # the whole run would take minutes


def test_unknown_types_and_shapes_are_input_errors() -> None:
    with pytest.raises(InputError, match="not a Dodo event type"):
        fuzz(Transform(FRAGILE, "fragile.js"), "payment.nothing", examples=5, seed=0,
             checks=Checks())

    class Odd(BaseModel):
        raw: bytes

    with pytest.raises(InputError, match="cannot generate values of"):
        generate.compile_model(Odd)

    class Node(BaseModel):
        child: Node | None = None

    with pytest.raises(InputError, match="recursive model"):
        generate.compile_model(Node)


def test_values_the_model_constrains_further_are_drawn_again() -> None:
    class Positive(BaseModel):
        amount: Annotated[int, Field(ge=0)]
        more: list[Annotated[int, Field(ge=0)]]

    values = [generate.valid_draw(Positive, generate.compile_model(Positive), f"k{i}")[0]
              for i in range(50)]
    assert all(v["amount"] >= 0 and min(v["more"], default=0) >= 0 for v in values)
    assert any(v["more"] for v in values)
    assert generate.simplest(Positive) == {"amount": 0, "more": []}
    assert generate.simplest(Annotated[int, Field(ge=0)] | str) == 0

    class Impossible(BaseModel):
        amount: Annotated[int, Field(gt=2**60)]

    with pytest.raises(InputError, match="cannot generate values valid under Impossible"):
        generate.valid_draw(Impossible, generate.compile_model(Impossible), "k")


@pytest.mark.parametrize("name", ["dispute", "subscription"])
def test_published_examples_fuzzed_saved_and_rerun(cli: RunCli, tmp_path: Path,
                                                   name: str) -> None:
    transform = str(TRANSFORMS / "dodo-docs" / f"{name}.js")
    document = json.loads(cli("fuzz", transform, "-n", "20", "--save-failures",
                              str(tmp_path / "found"), "--format", "json", code=1).stdout)
    reports = document["reports"]
    assert {r["event_type"].split(".")[0] for r in reports} == {name}
    assert all(r["failures"].get("ts-in-seconds") == r["tried"] == 20 for r in reports)
    saved = sorted((tmp_path / "found").iterdir())
    assert len(saved) == len(reports)
    rerun = json.loads(cli("test", "-t", transform, "-s", str(tmp_path / "found"),
                           "--format", "json", code=1).stdout)
    assert all("ts-in-seconds" in [f["code"] for f in r["findings"]]
               for r in rerun["results"])


def test_test_fuzz_joins_the_reports(cli: RunCli, in_tmp: Path) -> None:
    Path("fragile.js").write_text(FRAGILE)
    args = ["test", "-t", "fragile.js", "-s", str(TRANSFORMS.parent / "webhooks" /
                                                  "payment.succeeded.json"),
            "--fuzz", "30", "--event", "payment.succeeded"]
    document = json.loads(cli(*args, "--format", "json", code=1).stdout)
    assert document["ok"] is False
    assert document["summary"]["passed"] == 1
    [report] = document["fuzz"]["reports"]
    assert (report["event_type"], report["tried"]) == ("payment.succeeded", 30)
    assert report["failures"]["js-exception"] > 0
    cli(*args, "--format", "junit", "-o", "report.xml", code=1)
    suites = {s.get("name"): s for s in ElementTree.parse("report.xml").getroot()}
    case = suites["fuzz: fragile.js"].find("testcase")
    assert case is not None and case.find("failure") is not None
    text = cli(*args, code=1).stdout
    assert "Fuzz (seed 0)" in text
    assert "smallest failing change to the bundled sample:" in text


def test_types_that_fail_on_their_bundled_sample_are_one_line(cli: RunCli, in_tmp: Path) -> None:
    # A transform that throws on every type but one: nothing to reduce for the others, so they
    # are named together instead of a block each.
    Path("t.js").write_text(
        "function handler(w) {\n  if (!w.eventType.startsWith('refund.')) throw new "
        "Error('unhandled ' + w.eventType);\n  w.payload = {name: 'dodo/r', id: 'i', data: {}, "
        "ts: 1773480413000};\n  return w;\n}\n")
    out = cli("fuzz", "t.js", "-n", "3", code=1).stdout
    blocks = out.split("\n\n")
    grouped = [b for b in blocks if "on the bundled sample itself" in b]
    assert len(grouped) == 1
    line = " ".join(grouped[0].split())
    assert line.startswith("t.js: js-exception on the bundled sample itself, for 46 event types "
                           "(dodo-inngest test -t t.js shows each): abandoned_checkout.detected, ")
    assert "refund." not in line and line.endswith("subscription.updated")
    assert "× payment.failed" not in out  # no block per type
