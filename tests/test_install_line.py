"""`init`'s install line: how the running copy was installed (PEP 610) → what CI installs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dodo_inngest_cli.install import InstallSource, from_direct_url
from dodo_inngest_cli.starter import workflow

from conftest import ROOT, RunCli

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(("direct_url", "expected"), [
    pytest.param(None, InstallSource("dodo-inngest-cli==0.1.0"), id="index"),
    pytest.param(
        {"url": "https://github.com/acme/dodo-inngest.git",
         "vcs_info": {"vcs": "git", "requested_revision": "main", "commit_id": COMMIT}},
        InstallSource(f"dodo-inngest-cli @ git+https://github.com/acme/dodo-inngest.git@{COMMIT}",
                      github_action=f"acme/dodo-inngest@{COMMIT}"), id="github"),
    pytest.param(
        {"url": "https://bot:s3cret@github.com/acme/dodo-inngest",
         "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
        InstallSource(f"dodo-inngest-cli @ git+https://github.com/acme/dodo-inngest@{COMMIT}",
                      github_action=f"acme/dodo-inngest@{COMMIT}"), id="credentials-dropped"),
    pytest.param(
        {"url": "ssh://git@github.com/acme/dodo-inngest.git",
         "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
        InstallSource(f"dodo-inngest-cli @ git+ssh://git@github.com/acme/dodo-inngest.git@{COMMIT}",
                      github_action=f"acme/dodo-inngest@{COMMIT}"), id="github-ssh"),
    pytest.param(
        {"url": "https://gitlab.example.com/tools/dodo-inngest.git",
         "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
        InstallSource("dodo-inngest-cli @ git+https://gitlab.example.com/tools/dodo-inngest.git"
                      f"@{COMMIT}"), id="other-host"),
    pytest.param(
        {"url": "https://github.com/acme/monorepo", "subdirectory": "tools/dodo-inngest",
         "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
        InstallSource(f"dodo-inngest-cli @ git+https://github.com/acme/monorepo@{COMMIT}"
                      "#subdirectory=tools/dodo-inngest"), id="subdirectory"),
    pytest.param(
        {"url": "https://files.example.com/dodo_inngest_cli-0.1.0-py3-none-any.whl",
         "archive_info": {"hashes": {"sha256": "ab12"}}},
        InstallSource("dodo-inngest-cli @ https://files.example.com/"
                      "dodo_inngest_cli-0.1.0-py3-none-any.whl#sha256=ab12"), id="remote-wheel"),
    pytest.param(
        {"url": "file:///home/me/dodo-inngest", "dir_info": {"editable": True}},
        InstallSource(None, "an editable install of a local checkout", "/home/me/dodo-inngest"),
        id="editable"),
    pytest.param(
        {"url": "file:///home/me/dodo-inngest", "dir_info": {}},
        InstallSource(None, "an install from a local folder", "/home/me/dodo-inngest"),
        id="folder"),
    pytest.param(
        {"url": "file:///tmp/dist/dodo_inngest_cli-0.1.0-py3-none-any.whl",
         "archive_info": {}},
        InstallSource(None, "an install from a local file",
                      "/tmp/dist/dodo_inngest_cli-0.1.0-py3-none-any.whl"), id="wheel-file"),
    pytest.param(
        {"url": "file:///home/me/dodo-inngest", "vcs_info": {"vcs": "git",
                                                             "commit_id": COMMIT}},
        InstallSource(None, "an install from a local git repository", "/home/me/dodo-inngest"),
        id="local-git"),
    pytest.param({}, InstallSource(None, "an install from a source this version cannot read"),
                 id="damaged-record"),
])
def test_install_source_from_the_pep_610_record(direct_url: dict[str, Any] | None,
                                                expected: InstallSource) -> None:
    assert from_direct_url(direct_url, "0.1.0") == expected


def steps(install: InstallSource) -> list[dict[str, Any]]:
    """The steps of the workflow init writes for an install source."""
    document = yaml.safe_load(workflow(install))
    assert document["name"] == "dodo-inngest"
    result: list[dict[str, Any]] = document["jobs"]["transforms"]["steps"]
    return result


def test_workflow_installs_a_pinned_requirement() -> None:
    install = InstallSource("dodo-inngest-cli @ git+https://git.example.com/t/d.git@abc")
    assert steps(install) == [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
        {"name": "Install dodo-inngest",
         "run": "pip install 'dodo-inngest-cli @ git+https://git.example.com/t/d.git@abc'\n"},
        {"run": "dodo-inngest test --strict --format junit --output dodo-inngest.xml"},
        {"uses": "actions/upload-artifact@v4", "if": "always()",
         "with": {"name": "dodo-inngest-report", "path": "dodo-inngest.xml"}},
    ]


def test_workflow_uses_the_action_of_a_github_install() -> None:
    install = InstallSource("…", github_action=f"acme/dodo-inngest@{COMMIT}")
    assert steps(install) == [
        {"uses": "actions/checkout@v4"},
        {"uses": f"acme/dodo-inngest@{COMMIT}", "with": {"args": "--strict"}},
    ]


def test_workflow_of_a_local_install_has_a_step_marked_to_edit_that_fails() -> None:
    install = InstallSource(None, "an install from a local file", "/tmp/x.whl")
    text = workflow(install)
    assert ("      # EDIT: the dodo-inngest that wrote this file was\n"
            "      # an install from a local file, which CI cannot install from.\n") in text
    assert "/tmp/x.whl" not in text
    [step] = [s for s in steps(install) if s.get("name", "").startswith("Install")]
    assert step == {"name": "Install dodo-inngest (EDIT ME)", "run": (
        'echo "::error file=.github/workflows/dodo-inngest.yml::say where CI installs '
        'dodo-inngest from (see EDIT)"\nexit 1\n')}


def test_init_from_an_editable_install_marks_the_line_and_says_why(cli: RunCli,
                                                                    in_tmp: Path) -> None:
    # The test suite runs from an editable install of this checkout (.ci/run: pip install -e).
    result = cli("init", "shop", code=0)
    assert result.stderr == (
        f"warning: this dodo-inngest is an editable install of a local checkout ({ROOT}), which "
        "CI cannot install from: edit the install step of shop/.github/workflows/"
        "dodo-inngest.yml (README: Install)\n")
    text = (in_tmp / "shop" / ".github" / "workflows" / "dodo-inngest.yml").read_text()
    assert "# EDIT: the dodo-inngest that wrote this file was\n" \
           "      # an editable install of a local checkout, which CI cannot install from." in text
    assert "- name: Install dodo-inngest (EDIT ME)" in text
