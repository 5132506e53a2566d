"""Fuzzing: generated Dodo payloads (valid under the official models), failures shrunk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, seed, settings

from dodo_inngest_cli.dodo import event_models
from dodo_inngest_cli.fuzz import event_strategy, fuzz, sample_body
from dodo_inngest_cli.pipeline import Checks
from dodo_inngest_cli.sandbox import Transform

from conftest import TRANSFORMS, RunCli

FRAGILE = (TRANSFORMS / "payment.js").read_text().replace(
    "payment_method: p.payment_method ?? null,",
    "payment_method: p.payment_method.toUpperCase(),")


def draw(event_type: str, count: int, at: int) -> list[dict[str, Any]]:
    """The first `count` payloads the strategy generates with seed `at`."""
    drawn: list[dict[str, Any]] = []

    @seed(at)
    @settings(max_examples=count, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(event_strategy(event_type))
    def collect(payload: dict[str, Any]) -> None:
        drawn.append(payload)

    collect()
    return drawn


@pytest.mark.parametrize("event_type", ["payment.failed", "subscription.renewed",
                                        "dispute.opened", "credit.added", "payout.success",
                                        "entitlement_grant.created"])
def test_generated_payloads_are_valid_under_the_official_model(event_type: str) -> None:
    model = event_models()[event_type]
    payloads = draw(event_type, 40, 1)
    assert len(payloads) == 40
    for payload in payloads:
        model.model_validate_json(json.dumps(payload), strict=True)


def test_generation_covers_the_edges() -> None:
    payloads = draw("payment.succeeded", 300, 2)
    data = [p["data"] for p in payloads]
    assert any("payment_method" not in d for d in data)
    assert any(d.get("payment_method", "") is None for d in data)
    assert len({d["currency"] for d in data}) > 30
    assert any(d["customer"]["name"] == "" for d in data)
    assert any(any(ord(c) > 127 for c in d["customer"]["name"]) for d in data)
    assert {0, 2**53 + 1} & {d["total_amount"] for d in data}


def test_the_same_seed_gives_the_same_payloads_and_findings() -> None:
    assert draw("dispute.opened", 25, 9) == draw("dispute.opened", 25, 9)
    transform = Transform(FRAGILE, "fragile.js")
    first = fuzz(transform, "payment.succeeded", examples=60, seed=4, checks=Checks())
    second = fuzz(transform, "payment.succeeded", examples=60, seed=4, checks=Checks())
    assert first.to_json() == second.to_json()


def test_a_fragile_transform_is_reduced_to_the_one_change_that_breaks_it() -> None:
    sample = sample_body("payment.succeeded")
    assert sample is not None
    report = fuzz(Transform(FRAGILE, "fragile.js"), "payment.succeeded", examples=150, seed=3,
                  checks=Checks(), baseline=sample.payload)
    assert list(report.failures) == ["js-exception"]
    [reproducer] = report.reproducers
    assert reproducer.message == (
        "fragile.js:25:23: TypeError: cannot read property 'toUpperCase' of undefined")
    assert [str(change) for change in reproducer.changes] in (
        ['- /data/payment_method: "card"'], ['~ /data/payment_method: "card" → null'])


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
