"""`dodo-inngest rules`, --version and the help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dodo_inngest_cli import __version__
from dodo_inngest_cli.cli import app
from dodo_inngest_cli.rules import RULES

from conftest import RunCli


def test_rules_lists_every_code(cli: RunCli) -> None:
    result = cli("rules", code=0)
    listed = [line.split()[0] for line in result.stdout.splitlines()[2:] if line.strip()]
    assert [code for code in listed if code in RULES] == list(RULES)


def test_rule_explanation_with_example_fix(cli: RunCli) -> None:
    result = cli("rules", "ts-in-seconds", code=0)
    assert result.stdout.splitlines()[:2] == [
        "ts-in-seconds  [error]", "`ts` is in seconds; Inngest wants milliseconds."]
    assert "Example fix:\nts: new Date(webhook.payload.timestamp).getTime()  // no / 1000\n" \
        in result.stdout


def test_unknown_rule(cli: RunCli) -> None:
    result = cli("rules", "ts-in-second", code=2)
    assert result.stderr == ("error: unknown rule code 'ts-in-second'\n"
                             "hint: did you mean 'ts-in-seconds'? 'dodo-inngest rules' lists "
                             "every code\n")


def test_version(cli: RunCli) -> None:
    assert cli("--version", code=0).stdout == f"dodo-inngest {__version__}\n"


def test_help_lists_commands_and_exit_codes(cli: RunCli) -> None:
    text = cli("--help", code=0).stdout
    for command in ("test", "run", "rules"):
        assert f"\n  {command} " in text
    assert "Exit codes: 0 success" in text


def commands() -> list[tuple[str, ...]]:
    """Every command path, sub-commands included."""
    import typer

    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        if subs:
            found += [(name, sub) for sub in subs]
        else:
            found.append((name,))
    return found


def test_every_command_and_option_has_help_and_an_example(cli: RunCli) -> None:
    import typer

    root = typer.main.get_command(app)
    assert len(commands()) == 14
    for path in commands():
        command = root
        for part in path:
            command = command.commands[part]  # type: ignore[attr-defined]
        assert command.help and "Examples" in command.help, path
        assert f"dodo-inngest {' '.join(path)}" in command.help, path
        for param in command.params:
            if param.name != "help":
                assert getattr(param, "help", None), (path, param.name)
        assert "Examples" in cli(*path, "--help", code=0).stdout


def test_module_entry_point_runs_as_a_process() -> None:
    done = subprocess.run([sys.executable, "-m", "dodo_inngest_cli", "--version"],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, f"dodo-inngest {__version__}\n")


def test_unexpected_error_is_one_line_without_debug(cli: RunCli, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.delenv("DODO_INNGEST_DEBUG")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("dodo_inngest_cli.cli.render.print_rules", broken)
    result = cli("rules", code=1)
    assert result.stderr == (
        "error: internal error: RuntimeError: boom\n"
        "hint: this is a bug in dodo-inngest; run again with --debug for the traceback\n")
    assert "Traceback" not in result.stdout + result.stderr


def test_help_and_rules_load_no_engine_sdk_or_http_client() -> None:
    probe = ("import sys\n"
             "from typer.testing import CliRunner\n"
             "from dodo_inngest_cli.cli import app\n"
             "for args in (['--help'], ['rules'], ['rules', 'ts-in-seconds']):\n"
             "    assert CliRunner().invoke(app, args).exit_code == 0\n"
             "print(sorted(m for m in ('quickjs', 'dodopayments', 'httpx') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def test_shell_completion_completes_commands_and_options() -> None:
    import os

    def complete(words: str, index: int) -> list[str]:
        script = Path(sys.executable).parent / "dodo-inngest"  # the installed console script
        done = subprocess.run([str(script)], capture_output=True,
                              text=True, check=False, env={
                                  **os.environ, "_DODO_INNGEST_COMPLETE": "complete_bash",
                                  "COMP_WORDS": words, "COMP_CWORD": str(index)})
        return done.stdout.split()

    assert complete("dodo-inngest te", 1) == ["test"]
    assert complete("dodo-inngest test --for", 2) == ["--format"]
    assert "fuzz" in complete("dodo-inngest ", 1)
