"""JSON in and out: reading files with errors that say where, writing text any writer can take,
and JSON pointers."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import InputError

# Characters valid in JSON strings that must not reach a writer raw: lone UTF-16 surrogates
# (no encoding can write them), DEL and the C1 controls (terminals act on them), and the line
# separators JavaScript treats as newlines.
_UNSAFE = re.compile("[\ud800-\udfff\x7f-\x9f\u2028\u2029]")


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON text that keeps non-ASCII readable but escapes what a writer cannot take raw."""
    separators = None if indent is not None else (",", ":")
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators,
                      sort_keys=sort_keys)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def dumps_report(document: dict[str, Any]) -> str:
    """A report document: a line per top-level key, and each item of a top-level list on a
    line of its own. Readable, greppable item by item, and fast (each line is written by the
    C encoder, where full indentation would fall back to the pure-Python one)."""

    def line(value: Any) -> str:
        return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}",
                           json.dumps(value, ensure_ascii=False))

    lines = ["{"]
    for index, (key, value) in enumerate(document.items()):
        comma = "," if index < len(document) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"  {line(key)}: [")
            lines += [f"    {line(item)}," for item in value[:-1]]
            lines += [f"    {line(value[-1])}", f"  ]{comma}"]
        else:
            lines.append(f"  {line(key)}: {line(value)}{comma}")
    return "\n".join([*lines, "}"]) + "\n"


def encode(value: Any) -> bytes:
    """The exact bytes sent over the wire for a JSON value (UTF-8; lone surrogates escaped,
    which Inngest's decoder reads as U+FFFD)."""
    return dumps(value).encode("utf-8")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class _OutOfRange(ValueError):
    """A number too large for a double: Python would read it as infinity."""


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _OutOfRange(f"{text} is beyond the range of a JSON number (a double)")
    return value


def loads(text: str) -> Any:
    """Parse JSON strictly: NaN and Infinity, which Python accepts, are refused like any other
    invalid JSON, and so is a number too large for a double (read as infinity, it would be
    sent as Infinity, which is not JSON)."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)


def read_json_file(path: Path, *, what: str, hint: str = "") -> Any:
    """A JSON file's value; an unreadable or invalid file is an InputError naming the file and,
    for bad JSON, the line and column."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a {what}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})",
                         hint=f"save the {what} as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_json(text.removeprefix("\ufeff"), source=str(path), hint=hint)


def parse_json(text: str, *, source: str, hint: str = "", embedded: bool = False) -> Any:
    """Parse JSON text; errors name the source, line and column (for text embedded in a
    larger file, such as a capture line's body, the place within that text)."""
    if not text.strip():
        raise InputError(f"{source}: " + ("the body is empty" if embedded
                                          else "empty: there is no JSON in it"), hint=hint)
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(_where(source, exc.lineno, exc.colno, embedded) + exc.msg,
                         hint=hint) from None
    except ValueError as exc:  # NaN, Infinity or 1e400, which json.loads reads without this
        line, column = _constant_position(text)
        hint = "use a number a double can hold" if isinstance(exc, _OutOfRange) else \
            "JSON has no NaN or Infinity (Python writes them; Dodo never sends them): use " \
            "null or a number"
        raise InputError(_where(source, line, column, embedded) + str(exc), hint=hint) \
            from None
    except RecursionError:
        raise InputError(f"{source}: the JSON is nested too deeply to read", hint=hint) \
            from None


def _where(source: str, line: int, column: int, embedded: bool) -> str:
    if embedded:
        return f"{source}: the body is not valid JSON (line {line}, column {column}): "
    return f"{source}:{line}:{column}: not valid JSON: "


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?')


def _constant_position(text: str) -> tuple[int, int]:
    """Line and column of the first NaN, Infinity or too large a number outside a string."""
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token[0] in "-0123456789" and not token.endswith("Infinity") \
                and not math.isinf(float(token)):
            continue
        if not token.startswith('"'):
            before = text[:match.start()]
            return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1
    return 1, 1


def pointer_token(key: object) -> str:
    """One JSON-pointer segment (RFC 6901): `~` as `~0`, `/` as `~1`."""
    return str(key).replace("~", "~0").replace("/", "~1")


def pointer(parts: Iterable[object]) -> str:
    """A JSON pointer from path segments: `/data/items/0`."""
    return "".join(f"/{pointer_token(part)}" for part in parts)


def pointer_parts(text: str) -> list[str]:
    """The segments of a JSON pointer (the inverse of `pointer`)."""
    return [p.replace("~1", "/").replace("~0", "~") for p in text.strip("/").split("/")]


def describe(value: Any) -> str:
    """A short description of a JSON value for messages: its type and, if small, itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({json.dumps(shown)})"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    return "an object"
