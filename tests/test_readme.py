"""The README stays true: its rule table matches the catalogue, its commands match CI."""

from __future__ import annotations

import re

from dodo_inngest_cli.rules import RULES

from conftest import ROOT

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
