"""Which line of a transform a finding about the event it sent points at.

A contract finding has a JSON path into the event (`/ts`, `/0/data/amount`), not a place in the
code. The line that names the key at that path (`ts: …`, `"ts": …`, `event.ts = …`) is where a
reader fixes it; when no line or more than one names the deepest key, the next key up is tried,
and when that is not decisive either the finding keeps no line rather than a guessed one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

from .rules import RULES, Finding

LOCATED_GROUPS = frozenset({"inngest", "expect"})
"""Rule groups whose paths point into the event the transform sent."""
NOT_LOCATED = frozenset({"snapshot-mismatch", "snapshot-missing"})
"""Their paths are into a snapshot document, not the event."""


def with_lines(findings: Sequence[Finding], code: str) -> list[Finding]:
    """The findings, those about the sent event given the transform line that sets it."""
    located = []
    for item in findings:
        rule = RULES.get(item.code)
        if item.line is None and item.path and not item.file and rule is not None \
                and rule.group in LOCATED_GROUPS and item.code not in NOT_LOCATED:
            line = locate(code, item.path)
            if line is not None:
                item = dataclasses.replace(item, line=line)
        located.append(item)
    return located


def locate(code: str, pointer: str) -> int | None:
    """The one line that names the deepest decisive key of the JSON pointer, or None."""
    keys = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]
            if part and not part.isdigit()]
    lines = _code_lines(code)
    for key in reversed(keys):
        pattern = _naming(key)
        hits = [number for number, line in enumerate(lines, 1) if pattern.search(line)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return None  # named on several lines: which one sent this event is not known
    return None


@functools.lru_cache(maxsize=64)
def _code_lines(code: str) -> list[str]:
    """The code's lines with // comments dropped (a key named in a comment sets nothing)."""
    return [re.sub(r"(^|[^:\\])//.*$", r"\1", line) for line in code.splitlines()]


@functools.lru_cache(maxsize=256)
def _naming(key: str) -> re.Pattern[str]:
    """`key:` or `"key":` in an object literal, or `.key =` / `["key"] =` in an assignment."""
    name = re.escape(key)
    return re.compile(rf"(?<![\w$.])(?:{name}|\"{name}\"|'{name}')\s*:(?!:)"
                      rf"|(?:\.{name}\b|\[[\"']{name}[\"']\])\s*=(?!=)")
