"""What the CI around a run asks for, read from its environment."""

from __future__ import annotations

import os
from collections.abc import Mapping


def github_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Running as a GitHub Actions step (GitHub sets GITHUB_ACTIONS=true): annotations wanted."""
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"
