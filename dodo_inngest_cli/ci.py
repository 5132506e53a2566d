"""What the CI around a run asks for, read from its environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def github_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Running as a GitHub Actions step (GitHub sets GITHUB_ACTIONS=true): annotations wanted."""
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def step_summary(environ: Mapping[str, str] | None = None) -> Path | None:
    """The file GitHub Actions shows as the job summary (GITHUB_STEP_SUMMARY), when set."""
    value = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY", "")
    return Path(value) if value else None


def workspace(environ: Mapping[str, str] | None = None) -> Path | None:
    """The repository's checkout on a GitHub Actions runner (GITHUB_WORKSPACE), when set:
    annotations name files from there."""
    value = (os.environ if environ is None else environ).get("GITHUB_WORKSPACE", "")
    return Path(value) if value else None
