"""The README stays true: its rule table, its set-up commands, its walkthrough and the
output its examples show."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dodo_inngest_cli.rules import RULES

from conftest import ROOT, RunCli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def rules_markdown() -> str:
    """The README's rule table, generated from the catalogue."""
    rows = ["| Code | Severity | Group | What it means |", "|---|---|---|---|"]
    for rule in RULES.values():
        summary = rule.summary.replace("|", "\\|")
        rows.append(f"| `{rule.code}` | {rule.severity.value} | {rule.group} | {summary} |")
    return "\n".join(rows)


def test_rule_table_matches_the_catalogue() -> None:
    match = re.search(r"<!-- rules:start -->\n(.*?)\n<!-- rules:end -->", README, re.S)
    assert match is not None, "README lacks the rules markers"
    expected = rules_markdown()
    assert match.group(1) == expected, "regenerate the README table:\n" + expected


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_second() -> None:
    block = re.search(r"```sh\n(.*?)\n```", README, re.S)
    assert block is not None
    commands = block.group(1).splitlines()
    assert len(commands) == 2
    assert "dodo-inngest test" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def walkthrough_commands() -> list[tuple[str, int]]:
    """The offline walkthrough's command lines, each with the exit code it should end with."""
    match = re.search(r"<!-- walkthrough:offline -->\n```sh\n(.*?)\n```", README, re.S)
    assert match is not None, "README lacks the offline walkthrough"
    commands = []
    for line in match.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        code = re.search(r"#\s*exits (\d+)\s*$", line)
        commands.append((line.split("  #")[0].strip(), int(code.group(1)) if code else 0))
    return commands


@pytest.mark.slow
def test_the_walkthrough_runs_in_one_shell_as_pasted(tmp_path: Path) -> None:
    """The offline steps in sequence in one shell session, as a reader pastes them: a `cd` in
    one step holds for the next."""
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "NO_COLOR": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    commands = walkthrough_commands()
    assert len(commands) >= 9
    script = "".join(f"{command}\necho \"@@ $? @@\" >&2\n" for command, _ in commands)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    codes = [int(code) for code in re.findall(r"^@@ (\d+) @@$", done.stderr, re.M)]
    assert codes == [code for _, code in commands], (done.stdout[-3000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr


def console_examples() -> list[tuple[str, str]]:
    """The README's `console` blocks that show a command run from the repository root: the
    command line and what it prints ("…" on a line of its own stands for lines left out)."""
    examples = []
    for block in re.findall(r"```console\n(.*?)\n```", README, re.S):
        first, _, shown = block.partition("\n")
        if first.startswith("$ dodo-inngest "):
            examples.append((first[2:], shown))
    return examples


def ms_masked(text: str) -> str:
    """Timings differ from run to run: the `ms` column's and the summary's figures go."""
    text = re.sub(r"│ +\d+\.\d+$", "│ <ms>", text, flags=re.M)
    return re.sub(r" in \d+\.\d+ s$", " in <seconds> s", text, flags=re.M)


@pytest.mark.parametrize(("command", "shown"), console_examples(),
                         ids=[command for command, _ in console_examples()])
def test_console_examples_print_what_the_readme_shows(
        cli: RunCli, monkeypatch: pytest.MonkeyPatch, command: str, shown: str) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "88")
    output = ms_masked(cli(*shlex.split(command)[1:]).output)
    pattern = "".join("(?:.*\n)*?" if line.strip() == "…" else re.escape(line) + "\n"
                      for line in ms_masked(shown).splitlines())
    assert re.match(pattern, output), output
