"""`init`: a starter project with corrected transforms, config, snapshots and a CI workflow."""

from __future__ import annotations

import shlex
from pathlib import Path

from .files import write_new_files
from .install import InstallSource
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
{steps}"""

ACTION_STEPS = """\
      # dodo-inngest's own action, at the commit this copy of dodo-inngest was installed from:
      # it installs the tool, runs `dodo-inngest test` (findings become annotations on the
      # transform files and a job summary) and keeps the JUnit report as an artifact.
      - uses: {action}
        with:
          args: --strict
"""

PIP_STEPS = """\
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
{install}\
      # Checks every transform against every Dodo event type and its snapshots: findings become
      # annotations on the transform files and a job summary; the JUnit report is kept.
      - run: dodo-inngest test --strict --format junit --output dodo-inngest.xml
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: dodo-inngest-report
          path: dodo-inngest.xml
"""

INSTALL_STEP = """\
      - name: Install dodo-inngest
        run: |
          pip install {requirement}
"""

EDIT_INSTALL_STEP = """\
      # EDIT: the dodo-inngest that wrote this file was
      # {reason}, which CI cannot install from.
      # Replace this step's commands with an install CI can run, e.g.
      #   pip install 'dodo-inngest-cli @ git+https://github.com/OWNER/dodo-inngest@COMMIT'
      # (README: Install lists the ways). Until then this step fails on purpose.
      - name: Install dodo-inngest (EDIT ME)
        run: |
          echo "::error file={path}::say where CI installs dodo-inngest from (see EDIT)"
          exit 1
"""

WORKFLOW_PATH = ".github/workflows/dodo-inngest.yml"

NEXT_STEPS = (
    "dodo-inngest test                      # every transform × every Dodo event type",
    "dodo-inngest test --update-snapshots   # record the expected requests",
    "dodo-inngest send --dev -t transforms/payment.js payment.succeeded   # to the Dev Server",
)


def workflow(install: InstallSource) -> str:
    """The GitHub Actions workflow: this repository's action when the tool came from GitHub,
    else setup-python, the install CI can run (or a step marked for editing), and `test`."""
    if install.github_action is not None:
        return WORKFLOW.format(steps=ACTION_STEPS.format(action=install.github_action))
    if install.requirement is not None:
        step = INSTALL_STEP.format(requirement=shlex.quote(install.requirement))
    else:
        step = EDIT_INSTALL_STEP.format(reason=install.reason, path=WORKFLOW_PATH)
    return WORKFLOW.format(steps=PIP_STEPS.format(install=step))


def starter_files(install: InstallSource) -> dict[str, str]:
    """Relative path → content of every file `init` writes."""
    transforms = bundled("transforms")
    files = {f"transforms/{name}.js": (transforms / f"{name}.js").read_text(encoding="utf-8")
             for name in ("payment", "subscription", "dispute")}
    files["dodo-inngest.toml"] = CONFIG
    files["snapshots/.gitkeep"] = ""
    files[WORKFLOW_PATH] = workflow(install)
    return files


def write_starter(folder: Path, install: InstallSource, *,
                  force: bool = False) -> list[Path]:
    """Write the starter project into folder, its workflow installing the tool as install
    says; an existing file is kept unless force."""
    files: dict[Path, str | bytes] = {folder / name: content
                                      for name, content in starter_files(install).items()}
    return write_new_files(files, force=force,
                           hint="init never overwrites; --force does, or pick an empty folder")
