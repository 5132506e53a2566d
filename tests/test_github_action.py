"""The composite GitHub Action (action.yml): its shape, and its steps' shell run in a scratch
repository with the variables a runner sets, as GitHub would run them."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from venvs import INSTALL_TIMEOUT, Venv, make_venv

from conftest import ROOT, TRANSFORMS, WEBHOOKS

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
PAYMENT = (TRANSFORMS / "payment.js").read_text(encoding="utf-8")
MILLISECONDS = "ts: new Date(webhook.payload.timestamp).getTime(),"
# ts in seconds for payment.failed only.
BROKEN = PAYMENT.replace(MILLISECONDS, (
    'ts: webhook.eventType === "payment.failed"\n'
    "      ? Math.floor(new Date(webhook.payload.timestamp).getTime() / 1000)\n"
    "      : new Date(webhook.payload.timestamp).getTime(),"))


def steps() -> list[dict[str, Any]]:
    """The action's steps."""
    result: list[dict[str, Any]] = ACTION["runs"]["steps"]
    return result


def test_the_action_is_composite_and_its_scripts_take_inputs_from_the_environment() -> None:
    assert ACTION["runs"]["using"] == "composite"
    scripts = [step for step in steps() if "run" in step]
    assert [step["name"] for step in scripts] == ["Install dodo-inngest", "dodo-inngest test"]
    for step in scripts:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], step["name"]  # no expression pasted into a script
        assert "if" not in step
    assert [step["uses"] for step in steps() if "uses" in step] == [
        "actions/setup-python@v5", "actions/upload-artifact@v4"]
    upload = steps()[-1]
    assert upload["if"] == "always() && inputs.artifact-name != ''"
    assert upload["with"]["path"] == "${{ steps.test.outputs.junit-path }}"


def test_the_readme_lists_every_input_with_its_default() -> None:
    table = README[README.index("| Input | Default | What it does |"):]
    rows = re.findall(r"^\| `([a-z-]+)` \|([^|]*)\|", table.split("\n\n")[0], re.M)
    documented = {name: default.strip().strip("`") for name, default in rows}
    assert set(documented) == set(ACTION["inputs"])
    for name, spec in ACTION["inputs"].items():
        if name != "install":
            assert documented[name] == spec["default"], name


def substitute(value: str, inputs: Mapping[str, str]) -> str:
    """A step's value with `${{ inputs.NAME }}` replaced, as the runner does."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).removeprefix("inputs.")
        assert match.group(1).startswith("inputs.") and name in inputs, match.group(0)
        return inputs[name]

    return EXPRESSION.sub(replace, value)


@dataclasses.dataclass
class ActionRun:
    """What the action's scripts did: each step's result, the files GitHub reads."""

    results: dict[str, subprocess.CompletedProcess[str]]
    summary: str
    outputs: str


def run_action(venv: Venv, workspace: Path, runner: Path, **given: str) -> ActionRun:
    """Run the action's `run:` steps in order as a runner does (bash -eo pipefail, the step's
    env and working-directory, GITHUB_* variables), with venv's Python standing in for
    setup-python; the `uses:` steps are GitHub's own actions."""
    inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    inputs.update(given)
    runner.mkdir()
    summary, outputs = runner / "step_summary.md", runner / "github_output"
    summary.touch()
    outputs.touch()
    env = venv.env(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace),
                   GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs),
                   GITHUB_ACTION_PATH=str(ROOT), RUNNER_TEMP=str(runner))
    results = {}
    for index, step in enumerate(s for s in steps() if "run" in s):
        script = runner / f"step{index}.sh"
        script.write_text(step["run"], encoding="utf-8")
        step_env = {**env, **{key: substitute(str(value), inputs)
                              for key, value in step.get("env", {}).items()}}
        cwd = workspace / substitute(step.get("working-directory", "."), inputs)
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=cwd, env=step_env, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT, check=False)
        results[step["name"]] = done
        if done.returncode:
            break
    return ActionRun(results, summary.read_text(encoding="utf-8"),
                     outputs.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """An empty Python, as setup-python leaves it: the action installs the tool itself."""
    yield make_venv(tmp_path_factory.mktemp("runner") / "python")


def scratch_repository(workspace: Path, transform: str) -> None:
    """A repository whose project lives in billing/: one transform, three samples."""
    project = workspace / "billing"
    (project / "transforms").mkdir(parents=True)
    (project / "transforms" / "payment.js").write_text(transform, encoding="utf-8")
    (project / "webhooks").mkdir()
    for name in ("payment.succeeded", "payment.failed", "refund.succeeded"):
        (project / "webhooks" / f"{name}.json").write_bytes(
            (WEBHOOKS / f"{name}.json").read_bytes())
    (project / "dodo-inngest.toml").write_text(
        'samples = ["webhooks"]\n\n[[transforms]]\nfile = "transforms/payment.js"\n')


@pytest.mark.slow
def test_the_action_fails_a_broken_transform_and_passes_the_fixed_one(
        runner_python: Venv, tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    scratch_repository(workspace, BROKEN)
    given = {"working-directory": "billing", "args": "--strict --event 'payment.*'"}
    broken = run_action(runner_python, workspace, tmp_path / "runner1", **given)
    install = broken.results["Install dodo-inngest"]
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    test = broken.results["dodo-inngest test"]
    assert test.returncode == 1, test.stdout + test.stderr
    lines = test.stdout.splitlines()
    assert re.sub(r"\d+\.\d+ s", "N s", lines[0]) == (
        "1 passed, 1 failed, 0 errors, 0 cancelled, 0 skipped, 0 warnings in N s; report "
        "written to dodo-inngest.xml")
    assert lines[1].startswith("::error file=billing/transforms/payment.js,line=15,"
                               "title=ts-in-seconds "
                               "(payment.failed)::ts 1773480667 is in seconds")
    assert len(lines) == 2
    assert broken.outputs == "junit-path=billing/dodo-inngest.xml\nexit-code=1\n"
    junit = ElementTree.parse(workspace / "billing" / "dodo-inngest.xml").getroot()
    assert (junit.get("tests"), junit.get("failures")) == ("2", "1")  # refund left out
    assert broken.summary.startswith("### dodo-inngest test: ❌ 1 failed, 0 errors of 2\n")
    assert ("| Transform | Sample | Rule | Severity | Message |\n|---|---|---|---|---|\n"
            "| transforms/payment.js:15 | payment.failed | `ts-in-seconds` | error | ts 1773480667 "
            "is in seconds") in broken.summary
    assert "**transforms/payment.js × payment.failed** (failed)" in broken.summary

    (workspace / "billing" / "transforms" / "payment.js").write_text(PAYMENT)
    fixed = run_action(runner_python, workspace, tmp_path / "runner2", **given)
    assert fixed.results["dodo-inngest test"].returncode == 0
    assert fixed.outputs == "junit-path=billing/dodo-inngest.xml\nexit-code=0\n"
    assert fixed.summary.startswith("### dodo-inngest test: ✅ 2 of 2 passed\n")
    assert "::" not in fixed.results["dodo-inngest test"].stdout
