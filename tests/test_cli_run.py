"""`dodo-inngest run`: one transform, one payload; data on stdout, people on stderr."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import TRANSFORMS, WEBHOOKS, RunCli

PAYMENT = str(TRANSFORMS / "payment.js")
DOCS_PAYMENT = str(TRANSFORMS / "dodo-docs" / "payment.js")
SAMPLE = WEBHOOKS / "payment.succeeded.json"


def test_outgoing_payload_goes_to_stdout(cli: RunCli) -> None:
    result = cli("run", PAYMENT, str(SAMPLE), code=0)
    payload = json.loads(result.stdout)
    assert payload["name"] == "dodo/payment.succeeded"
    assert payload["id"] == "payment.succeeded:pay_3Fq7ZkT2mW9xLc4RbN8v:2026-03-14T09:26:53.589Z"
    assert payload["ts"] == 1773480413589
    assert result.stderr == ""


def test_payload_from_stdin(cli: RunCli) -> None:
    result = cli("run", PAYMENT, "-", stdin=SAMPLE.read_text(), code=0)
    assert json.loads(result.stdout)["data"]["payment_id"] == "pay_3Fq7ZkT2mW9xLc4RbN8v"


def test_request_flag_prints_method_masked_url_and_headers(cli: RunCli) -> None:
    result = cli("run", PAYMENT, str(SAMPLE), "--request",
                 "--endpoint-url", "https://inn.gs/e/KEY-abcdefgh-9876", code=0)
    document = json.loads(result.stdout)
    assert (document["method"], document["url"], document["headers"]) == (
        "POST", "https://inn.gs/e/****9876", {})


def test_findings_and_console_go_to_stderr_and_exit_1(cli: RunCli, tmp_path: Path) -> None:
    transform = tmp_path / "t.js"
    transform.write_text(Path(DOCS_PAYMENT).read_text().replace(
        "function handler(webhook) {", "function handler(webhook) {\n  console.log('hello');"))
    result = cli("run", str(transform), str(SAMPLE), code=1)
    assert json.loads(result.stdout)["ts"] == 1773480413
    assert result.stderr.startswith("console.log: hello\n")
    assert "✗ ts-in-seconds /ts" in result.stderr
    assert "hint: Inngest wants milliseconds" in result.stderr


def test_cancelled_delivery_prints_nothing_on_stdout(cli: RunCli) -> None:
    result = cli("run", PAYMENT, str(WEBHOOKS / "dispute.opened.json"), code=0)
    assert result.stdout == ""
    assert result.stderr == "  i cancelled the handler cancelled this delivery\n"


def test_error_prints_no_payload(cli: RunCli, tmp_path: Path) -> None:
    transform = tmp_path / "t.js"
    transform.write_text("function handler(w) { while (true) {} }")
    result = cli("run", str(transform), str(SAMPLE), "--time-limit", "20", code=1)
    assert result.stdout == ""
    assert "js-timeout" in result.stderr
    assert "the transform ran past the 20 ms time limit while `handler` ran" in result.stderr


def test_bad_stdin_names_stdin_line_and_column(cli: RunCli) -> None:
    result = cli("run", PAYMENT, "-", stdin='{"type": }', code=2)
    assert result.stderr == ("error: <stdin>:1:10: not valid JSON: Expecting value\n"
                             "hint: a webhook body is one JSON object\n")
