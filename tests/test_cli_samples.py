"""`dodo-inngest samples`: list, show with --set, export."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pydantic
from dodopayments.types import UnwrapWebhookEvent, WebhookEventType

from conftest import WEBHOOKS, RunCli


def test_list_shows_48_types_and_the_variants(cli: RunCli) -> None:
    lines = cli("samples", "list", code=0).stdout.splitlines()
    assert lines[0].startswith("Event types (48): ")
    types = [line.split()[0] for line in lines if "│" in line and not line.startswith(" ")]
    assert types[:48] == sorted(typing.get_args(WebhookEventType))
    assert "payment.succeeded                  │ payment            │ A payment was captured." \
        in [line.rstrip() for line in lines]
    assert any(line.startswith("Variants (8): ") for line in lines)
    assert "dispute.opened.no-customer" in types


def test_show_prints_the_body(cli: RunCli) -> None:
    result = cli("samples", "show", "refund.succeeded", code=0)
    assert json.loads(result.stdout) == json.loads(
        (WEBHOOKS / "refund.succeeded.json").read_text(encoding="utf-8"))
    assert result.stderr == ""


def test_show_with_set_parses_json_values_and_keeps_strings(cli: RunCli) -> None:
    result = cli("samples", "show", "payment.succeeded", "--set", "data.currency=JPY",
                 "--set", "data.total_amount=5000", "--set", "data.customer.name=Zoë",
                 "--set", "data.product_cart.0.quantity=3", "--set", "data.tax=null", code=0)
    data = json.loads(result.stdout)["data"]
    assert (data["currency"], data["total_amount"], data["customer"]["name"],
            data["product_cart"][0]["quantity"], data["tax"]) == ("JPY", 5000, "Zoë", 3, None)
    assert result.stderr == ""


def test_show_warns_when_a_change_breaks_the_official_model(cli: RunCli) -> None:
    result = cli("samples", "show", "payment.succeeded", "--set", 'data.total_amount="49.99"',
                 code=0)
    assert json.loads(result.stdout)["data"]["total_amount"] == "49.99"
    assert "dodo-schema /data/total_amount" in result.stderr
    assert cli("samples", "show", "payment.succeeded", "--set", 'data.total_amount="49.99"',
               "--no-dodo-check", code=0).stderr == ""


def test_show_unknown_path_is_an_error_naming_it(cli: RunCli) -> None:
    result = cli("samples", "show", "payment.succeeded", "--set", "data.customer.mail=x", code=2)
    assert result.stderr == (
        "error: --set data.customer.mail: the sample has no field 'data.customer.mail'\n"
        "hint: --set changes existing fields; 'dodo-inngest samples show TYPE' prints them\n")
    assert result.stdout == ""


def test_show_unknown_sample(cli: RunCli) -> None:
    result = cli("samples", "show", "payment.sucseeded", code=2)
    assert result.stderr == (
        "error: no bundled sample named 'payment.sucseeded'\n"
        "hint: did you mean 'payment.succeeded'? 'dodo-inngest samples list' shows them all\n")


def test_export_writes_48_files_that_validate(cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "out"
    result = cli("samples", "export", str(target), code=0)
    assert result.stderr == f"wrote 48 files to {target}\n"
    files = sorted(target.iterdir())
    assert len(files) == 48
    adapter = pydantic.TypeAdapter(UnwrapWebhookEvent)
    for path in files:
        assert adapter.validate_json(path.read_text(encoding="utf-8"), strict=True).type \
            == path.stem


def test_export_filtered_with_variants(cli: RunCli, tmp_path: Path) -> None:
    cli("samples", "export", str(tmp_path), "--event", "dispute.*", "--variants", code=0)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.json")) == sorted(
        [f"dispute.{kind}.json" for kind in ("accepted", "cancelled", "challenged", "expired",
                                             "lost", "opened", "won")]
        + ["variants/dispute.opened.no-customer.json"])


def test_export_never_overwrites_without_force(cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "payment.succeeded.json").write_text("mine")
    result = cli("samples", "export", str(tmp_path), "--event", "payment.*", code=2)
    assert result.stderr == (
        f"error: {tmp_path / 'payment.succeeded.json'} exists (1 of the 4 files do)\n"
        "hint: choose an empty folder, or --force to overwrite\n")
    assert (tmp_path / "payment.succeeded.json").read_text() == "mine"
    assert not (tmp_path / "payment.failed.json").exists()
    cli("samples", "export", str(tmp_path), "--event", "payment.*", "--force", code=0)
    assert json.loads((tmp_path / "payment.succeeded.json").read_text())["type"] \
        == "payment.succeeded"


def test_test_without_samples_uses_the_bundled_library(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text("function handler(w) { w.cancel = true; return w; }")
    document = json.loads(cli("test", "t.js", "--format", "json", code=0).stdout)
    assert document["summary"]["cancelled"] == 56
