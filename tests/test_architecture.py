"""The layering holds: the core never imports the command line's libraries, one module talks
HTTP, and starting the command line loads none of the heavy engines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "dodo_inngest_cli"
CORE = sorted(p for p in PACKAGE.glob("*.py"))
CLI_ONLY = {"typer", "rich", "click"}


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports (at any depth of the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", CORE, ids=lambda p: p.name)
def test_the_core_never_imports_the_command_line_libraries(module: Path) -> None:
    assert imported(module) & CLI_ONLY == set()


def test_only_the_event_api_client_imports_httpx() -> None:
    users = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
             if "httpx" in imported(p)}
    assert users == {"client.py"}


def test_starting_the_command_line_loads_no_engine() -> None:
    probe = ("import sys\n"
             "import dodo_inngest_cli.cli\n"
             "heavy = ('quickjs', 'httpx', 'dodopayments', 'hypothesis', 'waitress', 'rich',"
             " 'pydantic.main')\n"
             "print(sorted(m for m in heavy if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
