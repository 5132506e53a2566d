"""`dodo-inngest coverage`: every Dodo event type × every transform, and the fields they read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dodo_inngest_cli.dodo import event_models

from conftest import TRANSFORMS, RunCli

CORRECTED = [str(TRANSFORMS / name) for name in ("payment.js", "subscription.js", "dispute.js")]
DOCS_PAYMENT = str(TRANSFORMS / "dodo-docs" / "payment.js")
SKIPPED_FAMILIES = ["abandoned_checkout.*", "credit.*", "dunning.*", "entitlement_grant.*",
                    "license_key.*", "payout.*", "refund.*"]


def transform_args(paths: list[str]) -> list[str]:
    return [arg for path in paths for arg in ("-t", path)]


def coverage_json(cli: RunCli, *args: str, code: int = 0) -> Any:
    return json.loads(cli("coverage", *args, "--format", "json", code=code).stdout)


def expected_outcome(result: dict[str, Any]) -> tuple[str, list[str]]:
    """What `test --format json` says a transform did with a sample, in coverage's words."""
    codes = [f["code"] for f in result["findings"]]
    if result["status"] in ("error", "cancelled"):
        return result["status"], []
    if result["status"] == "skipped":
        return "filtered", []
    if "passthrough" in codes:
        return "passthrough", []
    return "sent", [result["request"]["payload"]["name"]]


def test_the_map_of_the_bundled_transforms_agrees_with_test(cli: RunCli, in_tmp: Path) -> None:
    transforms = [*CORRECTED, DOCS_PAYMENT]
    mapped = coverage_json(cli, *transform_args(transforms))
    tested = json.loads(cli("test", *transform_args(transforms), "--format", "json",
                            code=1).stdout)
    assert [row["event_type"] for row in mapped["types"]] == sorted(event_models())
    assert len(mapped["types"]) == 48
    verdicts = {(r["transform"], r["event_type"]): r for r in tested["results"]
                if Path(r["sample"]).stem == r["event_type"]}
    for row in mapped["types"]:
        assert Path(row["sample"]).stem == row["event_type"]
        for cell in row["transforms"]:
            result = verdicts[(cell["transform"], row["event_type"])]
            assert (cell["outcome"], cell["names"]) == expected_outcome(result), row
            assert cell["status"] == result["status"]
    cells = {(Path(c["transform"]).parent.name + "/" + Path(c["transform"]).name,
              row["event_type"]): (c["outcome"], c["names"])
             for row in mapped["types"] for c in row["transforms"]}
    assert cells["transforms/payment.js", "payment.succeeded"] == (
        "sent", ["dodo/payment.succeeded"])
    assert cells["transforms/payment.js", "refund.succeeded"] == ("cancelled", [])
    assert cells["dodo-docs/payment.js", "payment.succeeded"] == ("sent", ["payment.succeeded"])
    assert cells["dodo-docs/payment.js", "refund.succeeded"] == ("passthrough", [])
    assert mapped["summary"] == {"types": 48, "sent": 23, "ignored": 0, "unhandled": 25,
                                 "no_sample": 0}
    assert mapped["unhandled"] == [t for t in sorted(event_models()) if not t.startswith(
        ("payment.", "subscription.", "dispute."))]


def test_fail_on_unhandled_until_every_type_is_sent_or_declared_ignored(
        cli: RunCli, in_tmp: Path) -> None:
    args = [*transform_args(CORRECTED), "--fail-on-unhandled", "-q"]
    config = in_tmp / "dodo-inngest.toml"
    config.write_text(f"ignore-events = {json.dumps(SKIPPED_FAMILIES)}\n")
    assert cli("coverage", *args, code=0).stderr == ""
    config.write_text(f"ignore-events = {json.dumps(SKIPPED_FAMILIES[:-1])}\n")
    failed = cli("coverage", *args, code=1)
    assert failed.stderr == (
        "error: 2 event types are neither sent by a transform nor declared ignored: "
        "refund.failed, refund.succeeded\n"
        "hint: shape them in a transform, or list them in ignore-events in the config\n")
    assert cli("test", *args, code=1).stderr == failed.stderr


def test_a_type_the_sdk_gains_shows_up_without_a_sample(cli: RunCli, in_tmp: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    known = dict(event_models())
    monkeypatch.setattr("dodo_inngest_cli.dodo.event_models",
                        lambda: {**known, "payment.partially_refunded":
                                 known["payment.succeeded"]})
    mapped = coverage_json(cli, *transform_args(CORRECTED), "--event", "payment.p*")
    assert [(row["event_type"], row["sample"], [c["outcome"] for c in row["transforms"]])
            for row in mapped["types"]] == [
        ("payment.partially_refunded", None, ["no-sample"] * 3),
        ("payment.processing", str(TRANSFORMS.parent / "webhooks" / "payment.processing.json"),
         ["sent", "cancelled", "cancelled"])]
    assert mapped["unhandled"] == ["payment.partially_refunded"]


def test_an_ignore_glob_that_matches_nothing_is_a_warning(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "dodo-inngest.toml").write_text('ignore-events = ["paymnt.*"]\n')
    result = cli("coverage", "-t", CORRECTED[0], "--event", "payment.succeeded", "-q", code=0)
    assert result.stdout == "1 event type: 1 sent, 0 ignored, 0 unhandled\n"
    assert result.stderr == \
        "warning: ignore-events 'paymnt.*' matches no event type the SDK knows\n"


def test_text_map(cli: RunCli, in_tmp: Path) -> None:
    result = cli("coverage", "-t", CORRECTED[0], "-t", DOCS_PAYMENT, "--event", "refund.*",
                 "--event", "payment.succeeded", code=0)
    assert [line.rstrip() for line in result.stdout.splitlines()] == [
        "3 Dodo event types (dodopayments 1.123.0) × 2 transforms",
        "Event type        ┃ transforms/payment.js ┃ dodo-docs/payment.js ┃ Sent as",
        "━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━",
        "payment.succeeded │ sent                  │ sent ✗               │ dodo/<type>, <type>",
        "refund.failed     │ cancelled             │ passthrough          │ not sent",
        "refund.succeeded  │ cancelled             │ passthrough          │ not sent",
        "",
        "Not sent and not declared ignored (2): refund.failed, refund.succeeded",
        "",
        "3 event types: 1 sent, 0 ignored, 2 unhandled",
    ]


def test_text_map_stacks_at_80_columns(cli: RunCli, in_tmp: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("coverage", *transform_args(CORRECTED), "--event", "dispute.won",
                 "--event", "subscription.update_payment_method", code=0)
    assert result.stdout.splitlines() == [
        "2 Dodo event types (dodopayments 1.123.0) × 3 transforms",
        "dispute.won",
        "  payment       cancelled",
        "  subscription  cancelled",
        "  dispute       sent",
        "  Sent as       dodo/<type>",
        "subscription.update_payment_method",
        "  payment       cancelled",
        "  subscription  sent",
        "  dispute       cancelled",
        "  Sent as       dodo/<type>",
        "",
        "2 event types: 2 sent, 0 ignored, 0 unhandled",
    ]


def test_fields_of_the_published_payment_example(cli: RunCli, in_tmp: Path) -> None:
    result = cli("coverage", "-t", DOCS_PAYMENT, "--event", "payment.succeeded", "--fields",
                 code=0)
    fields = result.stdout.split("payment × payment.succeeded: fields read\n")[1]
    assert [line.rstrip() for line in fields.splitlines()] == [
        "Field               ┃ Model              ┃ Guard",
        "━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━",
        "data.payment_id     │ required           │",
        "data.total_amount   │ required           │",
        "data.currency       │ required           │",
        "data.customer.email │ required           │",
        "data.customer.name  │ required           │",
        "data.payment_method │ optional, nullable │ guarded",
        "timestamp           │ required           │",
        "",
        "1 event type: 1 sent, 0 ignored, 0 unhandled",
    ]


def test_fields_name_what_a_fuzz_run_would_break(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "fragile.js").write_text(
        Path(CORRECTED[0]).read_text().replace("payment_method: p.payment_method ?? null",
                                               "payment_method: p.payment_method.toUpperCase()"))
    mapped = coverage_json(cli, "-t", "fragile.js", "--event", "payment.succeeded", "--fields")
    [cell] = mapped["types"][0]["transforms"]
    by_field = {read["field"]: read for read in cell["fields"]}
    assert by_field["data.payment_method"] == {
        "path": "/data/payment_method", "field": "data.payment_method", "in_model": True,
        "nullable": True, "optional": True, "guarded": False, "breaks": [
            {"when": "null", "code": "js-exception",
             "message": "fragile.js:25:23: TypeError: cannot read property 'toUpperCase' of "
                        "null"},
            {"when": "absent", "code": "js-exception",
             "message": "fragile.js:25:23: TypeError: cannot read property 'toUpperCase' of "
                        "undefined"}]}
    assert [read["field"] for read in cell["fields"] if read["guarded"] is False] == [
        "data.payment_method"]
    assert by_field["data.tax"]["guarded"] is True
    assert by_field["data.customer.email"]["guarded"] is None


def test_test_appends_the_map(cli: RunCli, in_tmp: Path) -> None:
    document = json.loads(cli("test", "-t", CORRECTED[0], "--coverage", "--event",
                              "payment.failed", "--format", "json", code=0).stdout)
    assert document["ok"] is True
    assert [(row["event_type"], row["transforms"][0]["outcome"])
            for row in document["coverage"]["types"]][:3] == [
        ("abandoned_checkout.detected", "cancelled"), ("abandoned_checkout.recovered",
                                                       "cancelled"),
        ("credit.added", "cancelled")]
    text = cli("test", "-t", CORRECTED[0], "--coverage", "--event", "payment.failed",
               code=0).stdout
    assert "48 Dodo event types (dodopayments 1.123.0) × 1 transform\n" in text
    assert text.endswith("48 event types: 4 sent, 0 ignored, 44 unhandled\n")
