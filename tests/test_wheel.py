"""The install path a new user takes: this repository builds a wheel that holds the sample
library and the transforms; installed in a fresh virtualenv, the tool runs from any folder, and
`init` there writes a workflow whose install line installs a working tool again."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from venvs import INSTALL_TIMEOUT, Venv, build_wheel, check, make_venv

from dodo_inngest_cli import __version__

from conftest import ROOT

pytestmark = pytest.mark.slow
REQUIREMENT = f"dodo-inngest-cli=={__version__}"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the wheel: it stands for a package index."""
    folder = tmp_path_factory.mktemp("dist")
    build_wheel(folder)
    return folder


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """A fresh virtualenv with the wheel installed by name, as from an index (pip's cache
    serves the dependencies when it has them)."""
    venv = make_venv(tmp_path_factory.mktemp("venv") / "venv")
    check(venv.run(f"python -m pip install --find-links '{dist}' '{REQUIREMENT}'",
                   tmp_path_factory.getbasetemp(), timeout=INSTALL_TIMEOUT))
    yield venv


def test_the_wheel_holds_the_package_the_samples_and_the_transforms(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("webhooks", "transforms"):
        expected = {f"dodo_inngest_cli/samples/{folder}/{p.relative_to(ROOT / 'samples' / folder)}"
                    .replace("\\", "/") for p in (ROOT / "samples" / folder).rglob("*")
                    if p.is_file()}
        assert expected and expected <= names, folder
    assert {"dodo_inngest_cli/cli/__init__.py", "dodo_inngest_cli/pytest_plugin.py"} <= names
    entry_points = zipfile.ZipFile(wheel).read(
        f"dodo_inngest_cli-{__version__}.dist-info/entry_points.txt").decode()
    assert "dodo-inngest = dodo_inngest_cli.cli:main" in entry_points
    assert "[pytest11]\ndodo-inngest = dodo_inngest_cli.pytest_plugin" in entry_points


def test_init_from_a_wheel_install_writes_a_working_install_line(installed: Venv, dist: Path,
                                                                  tmp_path: Path) -> None:
    where = check(installed.run(
        "python -c 'import dodo_inngest_cli; print(dodo_inngest_cli.__file__)'", tmp_path))
    assert Path(where.strip()).is_relative_to(installed.root)  # not this checkout
    assert check(installed.run("dodo-inngest --version", tmp_path)) == \
        f"dodo-inngest {__version__}\n"
    done = installed.run("dodo-inngest init shop", tmp_path)
    assert check(done).splitlines()[5] == "wrote shop/.github/workflows/dodo-inngest.yml"
    assert done.stderr == ""  # nothing to edit
    workflow = yaml.safe_load((tmp_path / "shop/.github/workflows/dodo-inngest.yml").read_text())
    [install] = [s for s in workflow["jobs"]["transforms"]["steps"]
                 if s.get("name") == "Install dodo-inngest"]
    assert install["run"] == f"pip install {REQUIREMENT}\n"

    shop = tmp_path / "shop"
    check(installed.run("dodo-inngest test --update-snapshots", shop))
    assert check(installed.run("dodo-inngest samples list", shop)).count(".json") >= 1
    # The line itself: with the package gone, it installs a tool that passes the project.
    check(installed.run("python -m pip uninstall -y dodo-inngest-cli", shop))
    assert installed.run("dodo-inngest --version", shop).returncode != 0
    check(installed.run(install["run"], shop, env=installed.env(PIP_FIND_LINKS=str(dist)),
                        timeout=INSTALL_TIMEOUT))
    report = check(installed.run("dodo-inngest test --strict --format json", shop))
    assert '"passed": 30' in report and '"warnings": 0' in report


def test_init_from_a_wheel_file_marks_the_line_to_edit(installed: Venv, dist: Path,
                                                       tmp_path: Path) -> None:
    [wheel] = dist.glob("*.whl")
    check(installed.run(f"python -m pip install --force-reinstall --no-deps '{wheel}'",
                        tmp_path, timeout=INSTALL_TIMEOUT))
    try:
        done = installed.run("dodo-inngest init shop", tmp_path)
        check(done)
        assert done.stderr == (
            f"warning: this dodo-inngest is an install from a local file ({wheel}), which CI "
            "cannot install from: edit the install step of shop/.github/workflows/"
            "dodo-inngest.yml (README: Install)\n")
    finally:  # back to the install by name the other tests expect
        check(installed.run(f"python -m pip install --force-reinstall --no-deps --no-index "
                            f"--find-links '{dist}' '{REQUIREMENT}'", tmp_path,
                            timeout=INSTALL_TIMEOUT))
