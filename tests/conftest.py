"""Shared fixtures: a strict CLI runner with pinned terminal settings, and sample paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dodo_inngest_cli.cli import app
from dodo_inngest_cli.models import Webhook
from dodo_inngest_cli.sources import read_webhook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
WEBHOOKS = SAMPLES / "webhooks"
TRANSFORMS = SAMPLES / "transforms"

RunCli = Callable[..., Result]

pytest_plugins = ["pytester"]  # runs pytest in scratch projects (the pytest plugin's tests)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Invoke `dodo-inngest` in-process; unexpected exceptions propagate, never swallowed."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("DODO_INNGEST_DEBUG", "raise")
    for name in ("FORCE_COLOR", "INNGEST_EVENT_KEY", "INNGEST_DEV", "INNGEST_BASE_URL",
                 "INNGEST_EVENT_API_BASE_URL", "INNGEST_ENV", "DODO_PAYMENTS_WEBHOOK_KEY",
                 "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str, code: int | None = None, stdin: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=stdin, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.stdout + result.stderr
        return result

    return run


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in an empty folder, away from the project's own configuration."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sample(name: str) -> Webhook:
    """A bundled sample webhook by event type."""
    return read_webhook(WEBHOOKS / f"{name}.json")


def write_json(path: Path, document: object) -> Path:
    """Write a JSON file and return its path."""
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
