"""The error audit: every error a user can meet is one plain line (what and where), a hint,
the right exit code, no traceback, and nothing captured or sent is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from inngest_server import Fault, InngestServer

from dodo_inngest_cli.capture import CaptureWriter, read_deliveries
from dodo_inngest_cli.listener import Listener, ListenerConfig, Received

from conftest import ROOT, TRANSFORMS, WEBHOOKS, RunCli, write_json

PAYMENT = str(TRANSFORMS / "payment.js")
SAMPLE = str(WEBHOOKS / "payment.succeeded.json")


def no_traceback(result: object) -> None:
    text = result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in text


@pytest.mark.parametrize(("setup", "args", "stderr"), [
    pytest.param(lambda d: (d / "t.js").write_bytes(b"function handler(w) { return '\xff'; }"),
                 ["test", "t.js", "-s", SAMPLE],
                 "error: t.js: not UTF-8 text (byte 30)\nhint: save the transform as UTF-8\n",
                 id="transform-not-utf8"),
    pytest.param(lambda d: (d / "t.js").mkdir(), ["run", "t.js", SAMPLE],
                 "error: t.js: is a folder, not a transform file\n"
                 "hint: name a .js file; 'dodo-inngest test FOLDER' tests every transform and "
                 "payload in a folder\n", id="transform-is-a-folder"),
    pytest.param(lambda d: (d / "p.json").write_text('"just a string"'),
                 ["run", PAYMENT, "p.json"],
                 "error: p.json: the payload is a string, not a Dodo webhook object\n"
                 "hint: a Dodo body looks like {business_id, type, timestamp, data}\n",
                 id="payload-is-a-string"),
    pytest.param(lambda d: (d / "e.json").write_text("[1, 2"),
                 ["send", "--dev", "--event", "e.json"],
                 "error: e.json:1:6: not valid JSON: Expecting ',' delimiter\n"
                 "hint: an events file holds one event object or an array of them\n",
                 id="events-file-not-json"),
    pytest.param(lambda d: None, ["send", "--url", "https://inn.gs/events/abc", "-t", PAYMENT,
                                  SAMPLE],
                 "error: --url https://inn.gs/events/abc: no /e/<key> in the path\n"
                 "hint: an Event API URL looks like https://inn.gs/e/<event key>\n",
                 id="url-without-event-path"),
    pytest.param(lambda d: None, ["send", "--dev", SAMPLE],
                 "error: give either -t TRANSFORM with payloads, or --event FILE\n"
                 "hint: dodo-inngest send --dev -t payment.js payment.succeeded\n",
                 id="send-without-transform"),
    pytest.param(lambda d: None, ["replay", "missing.jsonl", "-t", PAYMENT, "--dev"],
                 "error: missing.jsonl: no such capture or payload file\n"
                 "hint: dodo-inngest listen --capture FILE writes captures\n",
                 id="replay-missing-capture"),
    pytest.param(lambda d: None, ["replay", SAMPLE, "-t", PAYMENT, "--dev", "--since",
                                  "yesterday"],
                 "error: --since/--until: 'yesterday' is not an ISO-8601 time\n"
                 "hint: e.g. 2026-03-01 or 2026-03-01T12:00:00Z\n", id="bad-since"),
    pytest.param(lambda d: (d / "state").write_text("x"),
                 ["replay", SAMPLE, "-t", PAYMENT, "--dev", "--state", "state/s.jsonl"],
                 "error: state/s.jsonl: cannot open the state file: a part of its folder is a "
                 "file\n"
                 "hint: --state picks another place\n", id="state-file-unwritable"),
    pytest.param(lambda d: (d / "cap").write_text("x"),
                 ["listen", "--port", "0", "--capture", "cap/c.jsonl"],
                 "error: cap/c.jsonl: cannot open the capture file: a part of its folder is a "
                 "file\n"
                 "hint: check the folder exists and is writable\n", id="capture-unwritable"),
    pytest.param(lambda d: None, ["listen", "--forward"],
                 "error: --forward needs -t TRANSFORM\nhint: add -t payment.js\n",
                 id="forward-without-transform"),
    pytest.param(lambda d: None, ["verify", SAMPLE],
                 "error: verify needs the webhook secret\n"
                 "hint: set DODO_PAYMENTS_WEBHOOK_KEY=whsec_… (or --secret)\n",
                 id="verify-no-secret"),
    pytest.param(lambda d: (d / "out").write_text("x"),
                 ["samples", "export", "out/samples"],
                 "error: out/samples: cannot create this folder: a file is in the way\n"
                 "hint: name a folder (or a new one), not a file or a path through one\n",
                 id="export-through-a-file"),
    pytest.param(lambda d: None, ["tset"],
                 "error: No such command 'tset'. Did you mean 'test'?\n"
                 "hint: see 'dodo-inngest --help'\n",
                 id="unknown-command"),
    pytest.param(lambda d: None, ["send", "--dev", "-t", PAYMENT, SAMPLE, "--batch", "0"],
                 "error: --batch 0: out of range (1–5,000)\n", id="bad-batch"),
    pytest.param(lambda d: None, ["fuzz", PAYMENT, "--event", "nothing.*"],
                 None, id="fuzz-nothing-to-fuzz"),
])
def test_error_is_one_line_with_a_hint(cli: RunCli, in_tmp: Path, setup: object,
                                       args: list[str], stderr: str | None) -> None:
    setup(in_tmp)  # type: ignore[operator]
    result = cli(*args)
    no_traceback(result)
    if stderr is None:  # not an error: it says there was nothing to do
        assert result.exit_code == 0
        assert "no event type to fuzz" in result.stdout
        return
    assert result.exit_code == 2
    assert result.stderr.replace(str(in_tmp) + "/", "") == stderr


def test_dns_failure(cli: RunCli) -> None:
    result = cli("send", "--url", "https://dodo-inngest.invalid/e/key-000011112222", "-t",
                 PAYMENT, SAMPLE, "--retries", "0", code=1)
    assert result.stderr.startswith("error: https://dodo-inngest.invalid/e/****2222: DNS lookup "
                                    f"failed ({SAMPLE.replace(str(ROOT) + '/', '')})\n")
    assert "000011112222" not in result.stdout + result.stderr
    no_traceback(result)


def test_tls_failure(cli: RunCli) -> None:
    with InngestServer() as plain_http:
        secure = plain_http.url.replace("http://", "https://") + "/e/k"
        result = cli("send", "--url", secure, "-t", PAYMENT, SAMPLE, "--retries", "0", code=1)
    assert ": TLS failed: " in result.stderr
    no_traceback(result)


def test_a_50_mb_payload_is_a_memory_finding_not_a_crash(cli: RunCli, tmp_path: Path) -> None:
    document = json.loads(Path(SAMPLE).read_text())
    document["data"]["metadata"] = {"blob": "x" * (50 * 1024 * 1024)}
    big = write_json(tmp_path / "big.json", document)
    result = cli("run", PAYMENT, str(big), code=1)
    assert "js-memory the payload (50.0 MiB) does not fit in the 25 MiB memory limit" in \
        " ".join(result.stderr.split())
    assert result.stdout == ""


def test_disk_full_on_capture_answers_507_so_dodo_retries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    def disk_full(fd: int) -> None:  # a full disk refuses the flush (a device is refused sooner)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    seen: list[Received] = []
    listener = Listener("127.0.0.1", 0, ListenerConfig(capture=CaptureWriter(tmp_path / "c.jsonl")),
                        seen.append)
    listener.start()
    try:
        answer = httpx.post(listener.address + "/", content=Path(SAMPLE).read_bytes())
    finally:
        listener.stop()
    assert (answer.status_code, answer.json()) == (
        507, {"error": "the delivery could not be stored; retry later"})
    assert seen[0].note == "capture failed: No space left on device"


def interrupt(command: list[str], after: float) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def test_ctrl_c_during_test(tmp_path: Path) -> None:
    slow = tmp_path / "slow.js"
    slow.write_text("function handler(w) { var end = Date.now() + 60;\n"
                    "  while (Date.now() < end) {} w.cancel = true; return w; }")
    done = interrupt([sys.executable, "-m", "dodo_inngest_cli", "test", str(slow),
                      "--time-limit", "1000"], 1.5)
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")


def test_ctrl_c_during_send_loses_nothing_silently(tmp_path: Path) -> None:
    with InngestServer() as slow:
        slow.fail_next(Fault("slow", delay=5.0))
        done = interrupt([sys.executable, "-m", "dodo_inngest_cli", "send", "--url",
                          f"{slow.url}/e/k", "-t", PAYMENT, SAMPLE], 1.5)
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")


def test_capture_survives_the_listener_being_stopped_mid_delivery(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    listener = Listener("127.0.0.1", 0, ListenerConfig(capture=CaptureWriter(capture)),
                        lambda item: None)
    listener.start()
    with httpx.Client() as client:
        for _ in range(5):
            client.post(listener.address + "/", content=Path(SAMPLE).read_bytes())
    listener.stop()
    assert len(list(read_deliveries([capture]))) == 5


def test_ctrl_c_during_fuzz(tmp_path: Path) -> None:
    done = interrupt([sys.executable, "-m", "dodo_inngest_cli", "fuzz",
                      str(TRANSFORMS / "dodo-docs" / "dispute.js"), "-n", "5000"], 2.0)
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")
