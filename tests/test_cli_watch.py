"""`test --watch` and `run --watch` driven as a person drives them: save, read, Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from conftest import RunCli, write_json

WAIT = 60.0
"""Seconds to wait for a line: generous, for a loaded machine; a working run takes far less."""
TRANSFORM = """\
function handler(w) {
  const d = w.payload.data;
  w.payload = {name: "dodo/" + w.eventType, id: w.eventType + ":" + d.id,
               ts: 1773480413589, data: {id: d.id, email: d.customer?.email ?? null}};
  return w;
}
"""
BROKEN = TRANSFORM.replace("d.customer?.email", "d.customer.email")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")


def body(ident: str) -> dict[str, object]:
    return {"business_id": "bus_1", "type": "payment.succeeded",
            "timestamp": "2026-03-14T09:26:53Z", "data": {"id": ident}}


class Watched:
    """A `dodo-inngest … --watch` process whose output is read line by line as it comes."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dodo_inngest_cli", *args], cwd=cwd, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"})
        self.out: queue.Queue[str | None] = queue.Queue()
        self.err: queue.Queue[str | None] = queue.Queue()
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def until(self, lines: queue.Queue[str | None], last: Callable[[str], bool]) -> list[str]:
        """The lines up to and including the first one that `last` accepts."""
        seen: list[str] = []
        while True:
            line = lines.get(timeout=WAIT)
            assert line is not None, f"the process ended: {seen}"
            seen.append(re.sub(r"\d+ ms|\d+\.\d+ s", "N", line.rstrip("\n").rstrip()))
            if last(seen[-1]):
                return seen

    def round(self) -> list[str]:
        """stdout from a re-run's heading to its summary line."""
        lines = self.until(self.out, lambda line: " passed, " in line)
        return lines[lines.index(next(line for line in lines if line.startswith("run "))):]

    def interrupt(self) -> tuple[int, list[str], list[str]]:
        """Ctrl-C: the exit code and what came out after it."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=WAIT)
        return code, _rest(self.out), _rest(self.err)

    def stop(self) -> None:
        """End the process if a failed test left it running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _rest(lines: queue.Queue[str | None]) -> list[str]:
    found = []
    while (line := lines.get(timeout=WAIT)) is not None:
        found.append(re.sub(r"\d+\.\d+ s", "N", line.rstrip("\n")))
    return found


def save_by_rename(path: Path, text: str) -> None:
    """Save as many editors do: write a new file, then rename it over the old one."""
    fresh = path.with_name(path.name + ".tmp")
    fresh.write_text(text)
    os.replace(fresh, path)


@pytest.fixture
def watched(in_tmp: Path) -> Iterator[Watched]:
    (in_tmp / "t.js").write_text(TRANSFORM)
    (in_tmp / "hooks").mkdir()
    for ident in ("first", "second", "third"):
        write_json(in_tmp / "hooks" / f"{ident}.json", body(ident))
    process = Watched(["test", "--watch", "--no-dodo-check", "-t", "t.js", "-s", "hooks"],
                      in_tmp)
    yield process
    process.stop()


def test_watch_shows_what_broke_what_was_fixed_and_reruns_only_affected_pairs(
        watched: Watched, in_tmp: Path) -> None:
    assert watched.until(watched.out, lambda line: " passed, " in line)[-1] == (
        "3 passed, 0 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N")
    assert watched.until(watched.err, lambda line: "watching" in line) == [
        "watching 4 files in 2 folders; Ctrl-C stops"]

    (in_tmp / "t.js").write_text(BROKEN)
    assert watched.round() == [
        "run 2: t.js changed; re-ran 3 of 3 pairs in N",
        "✗ newly failing: t.js × first (js-exception)",
        "✗ newly failing: t.js × second (js-exception)",
        "✗ newly failing: t.js × third (js-exception)",
        "",
        "t.js × 3 samples (first, second, third): error",
        "  ✗ js-exception t.js:4:59: TypeError: cannot read property 'email' of undefined",
        "                 hint: guard fields that may be null or absent (?. and ??)",
        "",
        "0 passed, 0 failed, 3 errors, 0 cancelled, 0 skipped, 0 warnings in N"]

    save_by_rename(in_tmp / "t.js", TRANSFORM)
    assert watched.round() == [
        "run 3: t.js changed; re-ran 3 of 3 pairs in N",
        "✓ fixed: t.js × first (passed)",
        "✓ fixed: t.js × second (passed)",
        "✓ fixed: t.js × third (passed)",
        "",
        "3 passed, 0 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N"]

    write_json(in_tmp / "hooks" / "second.json",
               {**body("second"), "data": {"id": "second", "customer": {"email": "a@b.c"}}})
    assert watched.round() == [
        "run 4: hooks/second.json changed; re-ran 1 of 3 pairs in N",
        "~ output changed: t.js × second (passed)",
        '    ~ /payload/data/email: null → "a@b.c"',
        "",
        "3 passed, 0 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N"]

    for text in (TRANSFORM.replace("ts: 1773480413589", "ts: 1773480413590"), BROKEN,
                 TRANSFORM.replace("?? null}", "?? null, burst: true}")):
        (in_tmp / "t.js").write_text(text)  # a burst of saves: one re-run
    assert watched.round()[:2] == ["run 5: t.js changed; re-ran 3 of 3 pairs in N",
                                   "~ output changed: t.js × first (passed)"]
    (in_tmp / "hooks" / "first.json").write_text("{not json")
    assert watched.round() == [  # run 6: the burst was one run
        "run 6: hooks/first.json changed", "the previous results stand until it is fixed", "",
        "3 passed, 0 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N"]
    assert watched.until(watched.err, lambda line: line.startswith("hint:")) == [
        "error: hooks/first.json:1:2: not valid JSON: Expecting property name enclosed in "
        "double quotes",
        "hint: a webhook body is one JSON object"]

    code, out, err = watched.interrupt()
    assert (code, out, err) == (
        130, ["", "3 passed, 0 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N"],
        ["error: interrupted"])


def test_run_watch_prints_the_new_payload_on_every_save(in_tmp: Path) -> None:
    (in_tmp / "t.js").write_text(TRANSFORM)
    write_json(in_tmp / "p.json", body("first"))
    process = Watched(["run", "t.js", "p.json", "--watch", "--no-dodo-check"], in_tmp)
    try:
        first = process.until(process.out, lambda line: line == "}")
        assert json.loads("\n".join(first)) == {
            "name": "dodo/payment.succeeded", "id": "payment.succeeded:first",
            "ts": 1773480413589, "data": {"id": "first", "email": None}}
        process.until(process.err, lambda line: "watching" in line)
        write_json(in_tmp / "p.json", body("second"))
        second = process.until(process.out, lambda line: line == "}")
        assert json.loads("\n".join(second))["data"] == {"id": "second", "email": None}
        assert process.until(process.err, lambda line: line.startswith("~ output")) == [
            "", "run 2: p.json changed; re-ran 1 of 1 pair in N",
            "~ output changed: t.js × p (passed)"]
        code, _, err = process.interrupt()
        assert (code, err[-1]) == (130, "error: interrupted")
    finally:
        process.stop()


@pytest.mark.parametrize(("args", "message"), [
    (["test", "--watch", "--format", "json"], "--watch cannot be combined with --format json"),
    (["test", "--watch", "--update-snapshots"],
     "--watch cannot be combined with --update-snapshots"),
    (["test", "--watch", "--fuzz", "5"], "--watch cannot be combined with --fuzz"),
    (["run", "t.js", "-", "--watch"],
     "run --watch needs a payload file or a bundled sample name, not standard input"),
])
def test_watch_refuses_what_it_cannot_show(cli: RunCli, in_tmp: Path, args: list[str],
                                           message: str) -> None:
    (in_tmp / "t.js").write_text(TRANSFORM)
    result = cli(*args, code=2)
    assert result.stderr.splitlines()[0] == f"error: {message}"
