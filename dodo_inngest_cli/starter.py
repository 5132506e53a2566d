"""`init`: a starter project with corrected transforms, config, snapshots and a CI workflow."""

from __future__ import annotations

from pathlib import Path

from .files import write_new_files
from .library import bundled

CONFIG = """\
# dodo-inngest configuration: `dodo-inngest --help`, and the README's Configuration section.
# No `samples`: `dodo-inngest test` runs over the bundled payloads of every Dodo event type.
snapshots = "snapshots"
snapshot-ignore = []
# The Dodo event types these transforms cancel on purpose: `dodo-inngest coverage
# --fail-on-unhandled` fails on any other type no transform sends (one the SDK adds later, say).
ignore-events = ["refund.*", "license_key.*", "payout.*", "credit.*", "abandoned_checkout.*",
                 "dunning.*", "entitlement_grant.*"]

[[transforms]]
file = "transforms/payment.js"
events = ["payment.*"]

[[transforms]]
file = "transforms/subscription.js"
events = ["subscription.*"]

[[transforms]]
file = "transforms/dispute.js"
events = ["dispute.*"]
"""

WORKFLOW = """\
name: dodo-inngest
on: [push, pull_request]
jobs:
  transforms:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install dodo-inngest-cli
      # Checks every transform against every Dodo event type and its snapshots; findings
      # become annotations on the transform files.
      - run: dodo-inngest test --strict
      - run: dodo-inngest test --format junit --output dodo-inngest.xml
        if: always()
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: dodo-inngest-report
          path: dodo-inngest.xml
"""

NEXT_STEPS = (
    "dodo-inngest test                      # every transform × every Dodo event type",
    "dodo-inngest test --update-snapshots   # record the expected requests",
    "dodo-inngest send --dev -t transforms/payment.js payment.succeeded   # to the Dev Server",
)


def starter_files() -> dict[str, str]:
    """Relative path → content of every file `init` writes."""
    transforms = bundled("transforms")
    files = {f"transforms/{name}.js": (transforms / f"{name}.js").read_text(encoding="utf-8")
             for name in ("payment", "subscription", "dispute")}
    files["dodo-inngest.toml"] = CONFIG
    files["snapshots/.gitkeep"] = ""
    files[".github/workflows/dodo-inngest.yml"] = WORKFLOW
    return files


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write the starter project into folder; an existing file is kept unless force."""
    files: dict[Path, str | bytes] = {folder / name: content
                                      for name, content in starter_files().items()}
    return write_new_files(files, force=force,
                           hint="init never overwrites; --force does, or pick an empty folder")
