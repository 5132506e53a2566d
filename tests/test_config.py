"""Configuration: found upward, validated, overridden by flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TRANSFORMS, WEBHOOKS, RunCli


def setup_project(root: Path, table: str, *, name: str = "dodo-inngest.toml") -> None:
    (root / "t").mkdir()
    (root / "t" / "pay.js").write_text((TRANSFORMS / "payment.js").read_text())
    (root / "s").mkdir()
    for sample in WEBHOOKS.glob("*.json"):
        (root / "s" / sample.name).write_text(sample.read_text())
    (root / name).write_text(table)


def test_config_found_upward_with_event_filter_and_ignore(cli: RunCli, in_tmp: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    setup_project(in_tmp, 'samples = ["s"]\nignore = ["id-missing"]\n\n'
                          '[[transforms]]\nfile = "t/pay.js"\nevents = ["payment.*"]\n')
    (in_tmp / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(in_tmp / "deep" / "er")
    document = json.loads(cli("test", "--format", "json", code=0).stdout)
    passed = [r["sample"] for r in document["results"] if r["status"] == "passed"]
    assert passed == [str(in_tmp / "s" / f"payment.{kind}.json")
                      for kind in ("cancelled", "failed", "processing", "succeeded")]
    assert document["summary"]["skipped"] == 44


def test_pyproject_table(cli: RunCli, in_tmp: Path) -> None:
    setup_project(in_tmp, '[project]\nname = "x"\n\n[tool.dodo-inngest]\nsamples = ["s"]\n'
                          '[[tool.dodo-inngest.transforms]]\nfile = "t/pay.js"\n',
                  name="pyproject.toml")
    document = json.loads(cli("test", "--format", "json", code=0).stdout)
    assert document["summary"]["cancelled"] == 44


def test_flags_override_config(cli: RunCli, in_tmp: Path) -> None:
    setup_project(in_tmp, 'samples = ["s"]\nstrict = true\ntime-limit = 1000\n'
                          '[env]\nREGION = "eu"\n[[transforms]]\nfile = "t/pay.js"\n')
    (in_tmp / "t" / "pay.js").write_text(
        "function handler(w) { w.payload = {name: 'dodo/x', data: {r: w.env.REGION}}; return w; }")
    failed = json.loads(cli("test", "--format", "json", code=1).stdout)
    assert failed["results"][0]["request"]["payload"]["data"] == {"r": "eu"}
    loose = json.loads(cli("test", "--no-strict", "--env", "REGION=us", "--format", "json",
                           code=0).stdout)
    assert loose["results"][0]["request"]["payload"]["data"] == {"r": "us"}


@pytest.mark.parametrize(("table", "stderr"), [
    pytest.param('samples = ["s"]\nsampels = []\n',
                 "error: {cfg}: sampels: unknown key\nhint: did you mean 'samples'? known keys: "
                 "dodo-check, endpoint-url, "
                 "env, functions, ignore, ignore-events, memory-limit, samples, schemas, "
                 "snapshot-ignore, snapshots, stack-limit, strict, time-limit, transforms, "
                 "triggers\n",
                 id="unknown-key"),
    pytest.param('[[transforms]]\nfile = "t/pay.js"\nevnts = ["payment.*"]\n',
                 "error: {cfg}: transforms[0].evnts: unknown key\nhint: did you mean 'events'? "
                 "known keys: events, file\n",
                 id="unknown-transform-key"),
    pytest.param('[functions]\ntargets = ["app:client"]\ntimeuot = 1\n',
                 "error: {cfg}: functions.timeuot: unknown key\nhint: did you mean 'timeout'? "
                 "known keys: must-reach, python, steps, targets, timeout, unhandled-events\n",
                 id="unknown-functions-key"),
    pytest.param('[functions]\ntargets = ["app:client"]\ntimeout = 0\n',
                 "error: {cfg}: functions.timeout: input should be greater than 0\n"
                 "hint: see the Configuration section of the README\n",
                 id="functions-timeout-zero"),
    pytest.param('strict = "yes"\n',
                 "error: {cfg}: strict: input should be a valid boolean\n"
                 "hint: see the Configuration section of the README\n", id="wrong-type"),
    pytest.param('ignore = ["ts-in-second"]\n',
                 "error: unknown rule code 'ts-in-second' in {cfg}\n"
                 "hint: did you mean 'ts-in-seconds'? 'dodo-inngest rules' lists every code\n",
                 id="unknown-ignore-code"),
    pytest.param('tool = "x"\n', "error: {cfg}: tool: unknown key\nhint: known keys: "
                 "dodo-check, endpoint-url, env, functions, ignore, ignore-events, "
                 "memory-limit, samples, schemas, snapshot-ignore, snapshots, stack-limit, "
                 "strict, time-limit, transforms, triggers\n", id="tool-not-a-table"),
    pytest.param('samples = ["s"\n',
                 "error: {cfg}: not valid TOML: Unclosed array (at end of document)\n"
                 "hint: fix the file\n", id="bad-toml"),
])
def test_bad_config_is_one_plain_line(cli: RunCli, in_tmp: Path, table: str, stderr: str) -> None:
    setup_project(in_tmp, table)
    result = cli("test", code=2)
    assert result.stderr == stderr.format(cfg=in_tmp / "dodo-inngest.toml")


@pytest.mark.parametrize(("pyproject", "stderr"), [
    ('# dodo-inngest\ntool = 5\n', ""),  # another project's odd file: none of our business
    ('[tool]\ndodo-inngest = 3\n',
     "error: {cfg}: [tool.dodo-inngest]: input should be a valid dictionary\n"
     "hint: see the Configuration section of the README\n"),
], ids=["tool-not-a-table", "our-table-not-a-table"])
def test_an_odd_pyproject_is_read_without_a_crash(cli: RunCli, in_tmp: Path, pyproject: str,
                                                  stderr: str) -> None:
    (in_tmp / "pyproject.toml").write_text(pyproject)
    result = cli("test", "-t", str(TRANSFORMS / "payment.js"), "-s", "payment.succeeded", "-q",
                 code=2 if stderr else 0)
    assert result.stderr == stderr.format(cfg=in_tmp / "pyproject.toml")
