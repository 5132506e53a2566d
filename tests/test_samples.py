"""The bundled library: a valid sample per SDK event type; transforms over all of it."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pydantic
import pytest
from dodopayments.types import CreditAddedWebhookEvent, UnwrapWebhookEvent, WebhookEventType

from dodo_inngest_cli import library
from dodo_inngest_cli.models import Status, matches
from dodo_inngest_cli.pipeline import Checks, evaluate
from dodo_inngest_cli.sandbox import Transform

from conftest import TRANSFORMS, WEBHOOKS, RunCli

SDK_TYPES = sorted(typing.get_args(WebhookEventType))
EVENT_SAMPLES = sorted(WEBHOOKS.glob("*.json"))
VARIANTS = sorted((WEBHOOKS / "variants").glob("*.json"))
ALL = library.webhooks()
HANDLES = {"payment": "payment.*", "subscription": "subscription.*", "dispute": "dispute.*"}
PUBLISHED_SHAPES = {"payment": ["payment.succeeded"],
                    "subscription": ["subscription.active", "subscription.cancelled"],
                    "dispute": ["dispute.*"]}
ADAPTER = pydantic.TypeAdapter(UnwrapWebhookEvent)


@pytest.mark.parametrize("event_type", SDK_TYPES)
def test_every_sdk_event_type_has_a_sample(event_type: str) -> None:
    assert (WEBHOOKS / f"{event_type}.json").is_file(), f"add samples/webhooks/{event_type}.json"


def test_library_holds_exactly_the_sdk_types() -> None:
    assert [p.stem for p in EVENT_SAMPLES] == SDK_TYPES
    assert len(SDK_TYPES) == 48


@pytest.mark.parametrize("path", EVENT_SAMPLES, ids=lambda p: p.stem)
def test_sample_validates_strictly_against_the_official_model(path: Path) -> None:
    event = ADAPTER.validate_json(path.read_text(encoding="utf-8"), strict=True)
    assert event.type == path.stem


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_variant_says_what_it_exercises(path: Path) -> None:
    about = path.with_suffix(".txt").read_text(encoding="utf-8").strip()
    assert len(about) > 20
    assert path.stem.startswith(json.loads(path.read_text(encoding="utf-8"))["type"] + ".")


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_variant_validates_unless_it_models_real_traffic_deviating(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if path.stem == "credit.added.numeric-amounts":
        with pytest.raises(pydantic.ValidationError) as raised:
            CreditAddedWebhookEvent.model_validate_json(text, strict=True)
        assert {e["loc"][-1] for e in raised.value.errors()} == {
            "amount", "balance_before", "balance_after", "overage_before", "overage_after"}
    else:
        ADAPTER.validate_json(text, strict=True)


def published(family: str, event_type: str) -> bool:
    return matches(event_type, PUBLISHED_SHAPES[family])


@pytest.mark.parametrize("family", sorted(HANDLES))
def test_published_example_over_the_whole_library(family: str) -> None:
    transform = Transform.from_file(TRANSFORMS / "dodo-docs" / f"{family}.js")
    for webhook in ALL:
        result = evaluate(transform, webhook, Checks(dodo_check=False))
        codes = [f.code for f in result.findings]
        assert result.status is Status.FAILED, webhook.name
        if published(family, webhook.event_type):
            assert [f.path for f in result.findings if f.code == "ts-in-seconds"] == ["/ts"]
        else:
            assert codes == ["passthrough"], webhook.name


@pytest.mark.parametrize("family", sorted(HANDLES))
def test_corrected_transform_over_the_whole_library(family: str) -> None:
    transform = Transform.from_file(TRANSFORMS / f"{family}.js")
    for webhook in ALL:
        # the numeric-credit variant's dodo-schema warnings are about the input, not the transform
        result = evaluate(transform, webhook,
                          Checks(strict=True, ignore=frozenset({"dodo-schema"})))
        if matches(webhook.event_type, [HANDLES[family]]):
            assert (result.status, result.findings) == (Status.PASSED, []), webhook.name
            assert result.request is not None
            assert result.request.payload["name"] == f"dodo/{webhook.event_type}"
        else:
            assert result.status is Status.CANCELLED, webhook.name


def test_published_payment_example_reports_each_type(cli: RunCli, in_tmp: Path) -> None:
    document = json.loads(cli("test", "-t", str(TRANSFORMS / "dodo-docs" / "payment.js"),
                              "--format", "json", code=1).stdout)
    verdicts = {r["sample"].split("/")[-1]: [f["code"] for f in r["findings"]
                                            if f["severity"] == "error"]
                for r in document["results"]}
    assert len(verdicts) == 56
    assert verdicts["payment.succeeded.json"] == ["ts-in-seconds"]
    assert verdicts["refund.succeeded.json"] == ["passthrough"]
    assert all(codes == ["passthrough"] for name, codes in verdicts.items()
               if not name.startswith("payment.succeeded"))


def test_configured_filter_turns_other_types_into_skipped(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "dodo-inngest.toml").write_text(
        f'[[transforms]]\nfile = "{TRANSFORMS / "dodo-docs" / "payment.js"}"\n'
        'events = ["payment.succeeded"]\n')
    document = json.loads(cli("test", "--format", "json", code=1).stdout)
    assert document["summary"] == {"total": 56, "passed": 0, "failed": 5, "errors": 0,
                                   "cancelled": 0, "skipped": 51, "warnings": 10}


def test_numeric_credit_amounts_are_dodo_schema_notes_on_a_bundled_sample(
        cli: RunCli, in_tmp: Path) -> None:
    document = json.loads(cli(
        "test", "-t", str(TRANSFORMS / "payment.js"),
        "-s", str(WEBHOOKS / "variants" / "credit.added.numeric-amounts.json"),
        "--format", "json", code=0).stdout)
    [result] = document["results"]
    assert result["status"] == "cancelled"
    schema = [f for f in result["findings"] if f["code"] == "dodo-schema"]
    assert [f["path"] for f in schema] == ["/data/amount", "/data/balance_after",
                                           "/data/balance_before", "/data/overage_after",
                                           "/data/overage_before"]
    assert schema[0]["message"] == (
        "the payload at /data/amount: Input should be a valid string "
        f"(dodopayments {library_sdk_version()}, credit.added) (a bundled sample, off the "
        "model on purpose)")
    assert {f["severity"] for f in schema} == {"info"}


def library_sdk_version() -> str:
    from dodo_inngest_cli.dodo import sdk_version

    return sdk_version()
