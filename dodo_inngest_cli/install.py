"""How the running dodo-inngest was installed, and so what a CI job can install to run it.

Read from the package's PEP 610 record (`direct_url.json`): an install by name from an index has
none (a version pin reproduces it); an install from a VCS URL records the commit (the same URL
at that commit reproduces it); an install from a local folder, an editable checkout or a local
file records a path that a CI machine cannot reach, so the user has to say where CI gets it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

DISTRIBUTION = "dodo-inngest-cli"


@dataclasses.dataclass(frozen=True)
class InstallSource:
    """Where CI can install this tool from: a pip requirement, or why there is none."""

    requirement: str | None
    """What `pip install` takes to reproduce this install; None when it came from this machine
    only."""
    reason: str = ""
    """What this copy is when there is no requirement, e.g. 'an editable install of a local
    checkout'."""
    where: str = ""
    """The folder or file a local install came from."""
    github_action: str | None = None
    """`owner/repo@commit` when it came from a GitHub repository: the repository's own action,
    at that commit."""

    def explain(self) -> str:
        """What this copy is and where it came from, for a message."""
        return f"this dodo-inngest is {self.reason}" + (f" ({self.where})" if self.where else "")


def from_direct_url(direct_url: Mapping[str, Any] | None, version: str) -> InstallSource:
    """Where CI can install the tool from, given its PEP 610 record (None: from an index)."""
    if direct_url is None:
        return InstallSource(f"{DISTRIBUTION}=={version}")
    url = str(direct_url.get("url", ""))
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = url2pathname(parts.path)
        if "vcs_info" in direct_url:
            return InstallSource(None, "an install from a local git repository", path)
        if "archive_info" in direct_url:
            return InstallSource(None, "an install from a local file", path)
        if direct_url.get("dir_info", {}).get("editable"):
            return InstallSource(None, "an editable install of a local checkout", path)
        return InstallSource(None, "an install from a local folder", path)
    clean = _without_password(url)
    vcs = direct_url.get("vcs_info", {})
    if vcs.get("commit_id"):
        subdirectory = direct_url.get("subdirectory")
        requirement = f"{DISTRIBUTION} @ {vcs.get('vcs', 'git')}+{clean}@{vcs['commit_id']}"
        if subdirectory:
            requirement += f"#subdirectory={subdirectory}"
        return InstallSource(requirement, github_action=None if subdirectory else
                             _github_action(clean, vcs))
    if "archive_info" in direct_url:
        hashes = direct_url["archive_info"].get("hashes", {})
        fragment = f"#sha256={hashes['sha256']}" if "sha256" in hashes else ""
        return InstallSource(f"{DISTRIBUTION} @ {clean}{fragment}")
    return InstallSource(None, "an install from a source this version cannot read", url)


def _without_password(url: str) -> str:
    """The URL without credentials (a `git@` user name stays: it is no secret)."""
    parts = urlsplit(url)
    if parts.username is None or (parts.username == "git" and parts.password is None):
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _github_action(url: str, vcs: Mapping[str, Any]) -> str | None:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if vcs.get("vcs", "git") != "git" or parts.hostname != "github.com" or len(segments) != 2:
        return None
    owner, repository = segments[0], segments[1].removesuffix(".git")
    return f"{owner}/{repository}@{vcs['commit_id']}"


def current() -> InstallSource:
    """How the running tool was installed."""
    from importlib import metadata

    try:
        distribution = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return InstallSource(None, "source files, not an installed package",
                             str(Path(__file__).resolve().parent))
    record = distribution.read_text("direct_url.json")
    try:
        direct_url = json.loads(record) if record is not None else None
    except ValueError:  # a damaged record: the source cannot be told
        direct_url = {}
    return from_direct_url(direct_url, distribution.version)
