"""The pre-commit hook (.pre-commit-hooks.yaml): what it runs and when, and `pre-commit
try-repo` against this repository from a scratch project, passing and failing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from venvs import INSTALL_TIMEOUT

from conftest import ROOT, TRANSFORMS, WEBHOOKS

README = (ROOT / "README.md").read_text(encoding="utf-8")
[HOOK] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_the_hook_runs_test_once_when_a_checked_file_changes() -> None:
    assert {key: HOOK[key] for key in ("id", "entry", "language", "pass_filenames")} == {
        "id": "dodo-inngest", "entry": "dodo-inngest test", "language": "python",
        "pass_filenames": False}
    files = re.compile(HOOK["files"])
    for path in ("transforms/payment.js", "src/hooks/dispute.mjs", "tests/webhooks/x.json",
                 "snapshots/transforms/payment/payment.succeeded.json",
                 "schemas/dodo/payment.succeeded.json", "triggers.toml", "dodo-inngest.toml",
                 "pyproject.toml"):
        assert files.search(path), path
    for path in ("README.md", "app/main.py", "transforms/payment.ts"):
        assert not files.search(path), path


def test_the_readme_config_uses_the_hook() -> None:
    match = re.search(r"<!-- pre-commit -->\n```yaml\n(.*?)\n```", README, re.S)
    assert match is not None
    [repo] = yaml.safe_load(match.group(1))["repos"]
    assert [hook["id"] for hook in repo["hooks"]] == [HOOK["id"]]


def git(project: Path, *args: str) -> None:
    """A git command in the scratch project."""
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, timeout=60)


def try_repo(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`pre-commit try-repo` of this repository's hook on every file of the project."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "PYTEST_", "PRE_COMMIT", "VIRTUAL_ENV"))}
    environ.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1", GIT_AUTHOR_NAME="dev",
                   GIT_AUTHOR_EMAIL="dev@example.com", GIT_COMMITTER_NAME="dev",
                   GIT_COMMITTER_EMAIL="dev@example.com")
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT),
                           "dodo-inngest", "--all-files", "--color", "never"], cwd=project,
                          env=environ, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                          check=False)


@pytest.mark.slow
def test_try_repo_passes_a_good_transform_and_fails_a_broken_one(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "transforms").mkdir(parents=True)
    payment = (TRANSFORMS / "payment.js").read_text(encoding="utf-8")
    (project / "transforms" / "payment.js").write_text(payment)
    (project / "webhooks").mkdir()
    (project / "webhooks" / "payment.succeeded.json").write_bytes(
        (WEBHOOKS / "payment.succeeded.json").read_bytes())
    (project / "dodo-inngest.toml").write_text(
        'samples = ["webhooks"]\n\n[[transforms]]\nfile = "transforms/payment.js"\n')
    git(project, "init", "-q")
    git(project, "add", "-A")
    good = try_repo(project, tmp_path / "home")
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    assert re.search(r"^dodo-inngest test\.+Passed$", good.stdout, re.M), good.stdout

    (project / "transforms" / "payment.js").write_text(
        payment.replace("ts: new Date(webhook.payload.timestamp).getTime(),",
                        "ts: Math.floor(new Date(webhook.payload.timestamp).getTime() / 1000),"))
    git(project, "add", "-A")
    broken = try_repo(project, tmp_path / "home")
    assert broken.returncode == 1, broken.stdout[-3000:] + broken.stderr[-3000:]
    assert re.search(r"^dodo-inngest test\.+Failed$", broken.stdout, re.M), broken.stdout
    assert "- exit code: 1" in broken.stdout
    assert "transforms/payment.js × payment.succeeded: failed" in broken.stdout
    assert "ts-in-seconds" in broken.stdout
