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
{defaults}\
    steps:
      - uses: actions/checkout@v4
{steps}"""

DEFAULTS = """\
    defaults:
      run:
        working-directory: {folder}
"""

ACTION_STEPS = """\
      # dodo-inngest's own action, at the commit this copy of dodo-inngest was installed from:
      # it installs the tool, runs `dodo-inngest test` (findings become annotations on the
      # transform files and a job summary) and keeps the JUnit report as an artifact.
      - uses: {action}
        with:
          args: --strict
{working_directory}"""

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
          path: {report}
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
    "dodo-inngest test                      # each transform × the event types it handles",
    "dodo-inngest test --update-snapshots   # record the expected requests",
    "dodo-inngest send --dev -t transforms/payment.js payment.succeeded   # to the Dev Server",
)


def workflow(install: InstallSource, folder: str = ".") -> str:
    """The GitHub Actions workflow: this repository's action when the tool came from GitHub,
    else setup-python, the install CI can run (or a step marked for editing), and `test`;
    run in folder, relative to the repository root."""
    inside = folder not in ("", ".")
    if install.github_action is not None:
        where = f"          working-directory: {folder}\n" if inside else ""
        return WORKFLOW.format(defaults="", steps=ACTION_STEPS.format(
            action=install.github_action, working_directory=where))
    if install.requirement is not None:
        step = INSTALL_STEP.format(requirement=shlex.quote(install.requirement))
    else:
        step = EDIT_INSTALL_STEP.format(reason=install.reason, path=WORKFLOW_PATH)
    report = f"{folder}/dodo-inngest.xml" if inside else "dodo-inngest.xml"
    return WORKFLOW.format(defaults=DEFAULTS.format(folder=folder) if inside else "",
                           steps=PIP_STEPS.format(install=step, report=report))


def repository_root(folder: Path) -> Path | None:
    """The root of the git repository holding folder (the first parent with `.git`)."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def starter_files(install: InstallSource) -> dict[str, str]:
    """Relative path → content of every file `init` writes, for a project at a repository's
    root."""
    transforms = bundled("transforms")
    files = {f"transforms/{name}.js": (transforms / f"{name}.js").read_text(encoding="utf-8")
             for name in ("payment", "subscription", "dispute")}
    files["dodo-inngest.toml"] = CONFIG
    files["snapshots/.gitkeep"] = ""
    files[WORKFLOW_PATH] = workflow(install)
    return files


def write_starter(folder: Path, install: InstallSource, *,
                  force: bool = False) -> tuple[list[Path], Path | None]:
    """Write the starter project into folder (never outside it), its workflow installing the
    tool as install says. When the folder lies inside a git repository whose root is
    elsewhere, the workflow runs in the folder and must be moved to that root, where GitHub
    reads workflows: the root is returned then (else None). An existing file is kept unless
    force."""
    files: dict[Path, str | bytes] = {folder / name: content
                                      for name, content in starter_files(install).items()}
    root = repository_root(folder.resolve())
    if root is not None and root != folder.resolve():
        files[folder / WORKFLOW_PATH] = workflow(
            install, folder.resolve().relative_to(root).as_posix())
    else:
        root = None
    written = write_new_files(files, force=force,
                              hint="init never overwrites; --force does, or pick an empty "
                                   "folder")
    return written, root
