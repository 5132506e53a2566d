"""Fresh virtualenvs for the tests that install dodo-inngest as a user would, and run it from
outside this repository. Each install takes tens of seconds: the tests that use them are
marked slow."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

INSTALL_TIMEOUT = 900
"""Seconds a pip install may take (a fresh environment downloads every dependency)."""
_DROPPED = ("GITHUB_", "PYTEST_", "INNGEST_", "DODO_INNGEST_", "DODO_PAYMENTS_", "PYTHONPATH",
            "VIRTUAL_ENV", "PRE_COMMIT")


@dataclasses.dataclass(frozen=True)
class Venv:
    """A virtualenv, and how to run commands with it first on PATH."""

    root: Path

    @property
    def bin(self) -> Path:
        """The folder of its executables."""
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment without test, CI and dodo-inngest settings, the venv
        first on PATH, plain output."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
        environ.update(PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}",
                       VIRTUAL_ENV=str(self.root), NO_COLOR="1", COLUMNS="100")
        environ.update(extra)
        return environ

    def run(self, command: str, cwd: Path, *, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A bash command line in cwd, with this venv first on PATH."""
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=env or self.env(),
                              capture_output=True, text=True, timeout=timeout, check=False)


def make_venv(root: Path) -> Venv:
    """A new, empty virtualenv."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    return Venv(root)


def build_wheel(dist: Path) -> Path:
    """Build this repository's wheel into dist, as a user would with pip alone."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist),
                           str(ROOT)], capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [wheel] = dist.glob("dodo_inngest_cli-*.whl")
    return wheel


def check(done: subprocess.CompletedProcess[str], code: int = 0) -> str:
    """The command's stdout, once its exit code is the expected one."""
    assert done.returncode == code, (done.args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout
