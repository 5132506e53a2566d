"""Inngest function triggers: which functions an event would run.

Matching follows Inngest exactly (pkg/event_trigger_patterns): an exact name, or a wildcard
that stands after `/` or `.`, at the end, anchored at the start: `dodo/*` and
`dodo/payment.*` match `dodo/payment.succeeded`; `payment.*` does not. An `expression` is CEL
over `event`, evaluated with the `cel-python` package; when it cannot be evaluated the answer
is "unknown", never a guess.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path
from typing import Any

from .errors import InputError
from .jsonio import read_json_file
from .rules import Finding, finding

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

KEYS = ("function", "event", "expression")
CEL_HINT = "e.g. event.data.total_amount > 10000"


@dataclasses.dataclass(frozen=True)
class Trigger:
    """One function's event trigger."""

    function: str
    event: str
    expression: str | None = None


@dataclasses.dataclass(frozen=True)
class Match:
    """Whether one trigger fires for one event: True, False, or None (unknown, with why)."""

    function: str
    trigger: str
    matched: bool | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The match as the JSON report shows it."""
        return {"function": self.function, "trigger": self.trigger, "matched": self.matched,
                "reason": self.reason}


def name_matches(pattern: str, name: str) -> bool:
    """Inngest's event-name matching: exact, or a trailing wildcard after `/` or `.`."""
    if pattern.endswith("*") and pattern[-2:-1] in ("/", ".") and "*" not in pattern[:-1]:
        return name.startswith(pattern[:-1])
    return pattern == name


def pattern_problem(pattern: str) -> str:
    """Why Inngest would refuse a trigger's event pattern, or "" when it is fine."""
    if "*" not in pattern:
        return ""
    if pattern.count("*") > 1 or not pattern.endswith("*") or pattern[-2:-1] not in ("/", "."):
        return "a wildcard may only stand at the end, right after '/' or '.'"
    return ""


def load_triggers(path: Path) -> list[Trigger]:
    """Triggers from a JSON list or a TOML `[[triggers]]` table; errors name file and place."""
    if path.suffix == ".toml":
        try:
            text = path.read_bytes().decode("utf-8")
            items: Any = tomllib.loads(text).get("triggers")
        except FileNotFoundError:
            raise InputError(f"{path}: no such triggers file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") \
                from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML: {exc}") from None
        where = "triggers"
    else:
        items = read_json_file(path, what="triggers file")
        where = ""
    hint = 'a list of {function, event, expression?}, e.g. [{"function": "fulfil", ' \
           '"event": "dodo/payment.succeeded"}]'
    if not isinstance(items, list):
        raise InputError(f"{path}: expected a list of triggers" +
                         (" under [[triggers]]" if where else ""), hint=hint)
    triggers = []
    for index, item in enumerate(items):
        place = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise InputError(f"{path}: {place}: expected a table of function, event, "
                             "expression", hint=hint)
        unknown = sorted(set(item) - set(KEYS))
        if unknown:
            raise InputError(f"{path}: {place}.{unknown[0]}: unknown key",
                             hint="known keys: " + ", ".join(KEYS))
        for key in ("function", "event"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise InputError(f"{path}: {place}.{key}: a non-empty string is required",
                                 hint=hint)
        expression = item.get("expression")
        if expression is not None and not isinstance(expression, str):
            raise InputError(f"{path}: {place}.expression: must be a string (CEL)", hint=hint)
        problem = cel_problem(expression) if expression else ""
        if problem:
            raise InputError(f"{path}: {place}.expression: {problem}", hint=CEL_HINT)
        problem = pattern_problem(item["event"])
        if problem:
            raise InputError(f"{path}: {place}.event: '{item['event']}': {problem}",
                             hint="e.g. 'dodo/*' or 'dodo/payment.*'")
        triggers.append(Trigger(item["function"], item["event"], expression or None))
    return triggers


def cel_problem(expression: str) -> str:
    """Why an expression is not valid CEL (naming the column), or "" when it compiles."""
    from celpy.celparser import CELParseError

    try:
        compiled(expression)
    except CELParseError as exc:
        column = getattr(exc, "column", None)
        return f"`{expression}` is not valid CEL" + (f" at column {column}" if column else "")
    return ""


def match(trigger: Trigger, event: Any) -> Match:
    """Whether the trigger fires for this event."""
    name = event.get("name") if isinstance(event, dict) else None
    if not isinstance(name, str) or not name_matches(trigger.event, name):
        return Match(trigger.function, trigger.event, False)
    if trigger.expression is None:
        return Match(trigger.function, trigger.event, True)
    from celpy.adapter import json_to_cel
    from celpy.celtypes import BoolType
    from celpy.evaluation import CELEvalError

    try:
        value = compiled(trigger.expression).evaluate({"event": json_to_cel(event)})
    except CELEvalError as exc:
        value = exc
    if isinstance(value, CELEvalError):
        reason = " ".join(str(value.args[0] if value.args else value).split())
        return Match(trigger.function, trigger.event, None,
                     f"cannot evaluate `{trigger.expression}`: {reason[:200]}")
    if not isinstance(value, BoolType):
        return Match(trigger.function, trigger.event, None,
                     f"`{trigger.expression}` gave {value!r}, not true or false")
    return Match(trigger.function, trigger.event, bool(value),
                 "" if value else f"`{trigger.expression}` is false")


@functools.lru_cache(maxsize=256)
def compiled(expression: str) -> Any:
    """A CEL program for an expression (raises CELParseError when it does not parse)."""
    import celpy

    environment = celpy.Environment()
    return environment.program(environment.compile(expression))


def check_triggers(triggers: list[Trigger], payload: Any) -> tuple[list[Finding], list[Match]]:
    """no-trigger (or trigger-unknown) findings per event, and every trigger that fired or
    might have."""
    events = payload if isinstance(payload, list) else [payload]
    findings: list[Finding] = []
    kept: list[Match] = []
    for index, event in enumerate(events):
        prefix = f"/{index}" if isinstance(payload, list) else ""
        matches = [match(trigger, event) for trigger in triggers]
        kept += [m for m in matches if m.matched is not False]
        name = event.get("name") if isinstance(event, dict) else None
        if any(m.matched for m in matches):
            continue
        unknown = [m for m in matches if m.matched is None]
        if unknown:
            findings.append(finding(
                "trigger-unknown",
                f"'{name}' may or may not run {unknown[0].function}: {unknown[0].reason}",
                path=f"{prefix}/name", hint="simplify the expression, or check it in the "
                                             "Inngest dashboard"))
        else:
            named = [m for m in matches if m.reason]  # the name matched, the expression is false
            because = "; ".join(f"{m.function} matches the name but {m.reason}" for m in named)
            findings.append(finding(
                "no-trigger", f"'{name}' triggers none of the {len(triggers)} declared "
                              "functions" + (f": {because}" if because else ""),
                path=f"{prefix}/name",
                hint="the expression reads the event as sent: check the fields it compares"
                     if named else "match a function's trigger exactly, or with a wildcard "
                                   "after '/' or '.' (e.g. 'dodo/payment.*')"))
    return findings, kept
