"""`dodo-inngest init`: a starter project that passes its own checks, never overwriting."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import RunCli

FILES = ["transforms/payment.js", "transforms/subscription.js", "transforms/dispute.js",
         "dodo-inngest.toml", "snapshots/.gitkeep", ".github/workflows/dodo-inngest.yml"]


def test_init_writes_a_project_and_prints_the_next_commands(cli: RunCli, in_tmp: Path) -> None:
    result = cli("init", "shop", code=0)
    assert result.stdout.splitlines() == [f"wrote shop/{name}" for name in FILES] + [
        "", "Next:", "  cd shop",
        "  dodo-inngest test                      # each transform × the event types it handles",
        "  dodo-inngest test --update-snapshots   # record the expected requests",
        "  dodo-inngest send --dev -t transforms/payment.js payment.succeeded   # to the Dev "
        "Server"]
    for name in FILES:
        assert (in_tmp / "shop" / name).is_file()
    assert "dodo-inngest test" in (in_tmp / "shop/.github/workflows/dodo-inngest.yml").read_text()


def test_the_starter_project_passes_strictly_once_snapshotted(cli: RunCli, in_tmp: Path,
                                                              monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    cli("init", "shop", code=0)
    monkeypatch.chdir(in_tmp / "shop")
    cli("test", "--update-snapshots", code=0)
    document = json.loads(cli("test", "--strict", "--format", "json", code=0).stdout)
    assert document["summary"]["passed"] == 30
    assert document["summary"]["warnings"] == 0


def test_init_never_overwrites(cli: RunCli, in_tmp: Path) -> None:
    (in_tmp / "dodo-inngest.toml").write_text("mine")
    result = cli("init", code=2)
    assert result.stderr == ("error: dodo-inngest.toml exists (1 of the 6 files do)\n"
                             "hint: init never overwrites; --force does, or pick an empty "
                             "folder\n")
    assert (in_tmp / "dodo-inngest.toml").read_text() == "mine"
    assert not (in_tmp / "transforms").exists()
    cli("init", "--force", code=0)
    assert (in_tmp / "dodo-inngest.toml").read_text().startswith("# dodo-inngest configuration")
