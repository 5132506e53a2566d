"""Where webhooks and transforms come from: files, folders and standard input."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import InputError
from .models import Webhook

_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
          bool: "a boolean", type(None): "null"}
TRANSFORM_SUFFIXES = (".js", ".cjs", ".mjs")
PAYLOAD_SUFFIXES = (".json",)


def shown(path: Path) -> Path:
    """The path relative to the working directory when it lies below it, for output."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def split_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Sort paths into transforms (.js) and payloads (.json); folders are searched recursively."""
    transforms: list[Path] = []
    payloads: list[Path] = []
    for path in paths:
        if path.is_dir():
            found_t, found_p = _scan(path)
            if not found_t and not found_p:
                raise InputError(f"{path}: the folder holds no .js transforms or .json payloads",
                                 hint="point at the folder that holds them")
            transforms += found_t
            payloads += found_p
        elif path.suffix in TRANSFORM_SUFFIXES:
            transforms.append(path)
        elif path.suffix in PAYLOAD_SUFFIXES:
            payloads.append(path)
        elif not path.exists():
            raise InputError(f"{path}: no such file or folder")
        else:
            raise InputError(f"{path}: cannot tell whether this is a transform or a payload",
                             hint="name transforms *.js and payloads *.json, or use -t/-s")
    return transforms, payloads


def payload_files(paths: Iterable[Path]) -> list[Path]:
    """The .json payload files in paths; folders are searched recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = _scan(path)[1]
            if not inside:
                raise InputError(f"{path}: the folder holds no .json payloads",
                                 hint="point at the folder that holds the samples")
            found += inside
        else:
            found.append(path)
    return found


def files_in(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files below folder with these suffixes, sorted; hidden files (our own state files
    among them) are left out."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in suffixes
                  and not p.name.startswith("."))


def _scan(folder: Path) -> tuple[list[Path], list[Path]]:
    return files_in(folder, TRANSFORM_SUFFIXES), files_in(folder, PAYLOAD_SUFFIXES)


def read_webhook(path: Path) -> Webhook:
    """Read one Dodo webhook body from a JSON file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such payload file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a payload file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_webhook(data, source=str(path), name=path.stem)


def parse_webhook(data: bytes, *, source: str, name: str) -> Webhook:
    """Parse a Dodo webhook body; errors name the source, line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start})",
                         hint="Dodo sends UTF-8 JSON; save the file as UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        payload = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
                         hint="a webhook body is one JSON object") from None
    except _NotJSON as exc:
        line, column = _bare_position(text, exc.token)
        raise InputError(f"{source}:{line}:{column}: not valid JSON: {exc.token} is not a JSON "
                         "value", hint="JSON has no NaN or Infinity (Python writes them; Dodo "
                                       "never sends them): use null or a number") from None
    except RecursionError:
        raise InputError(f"{source}: the JSON is nested too deeply to read",
                         hint="a Dodo body is a few levels deep; check the file") from None
    if not isinstance(payload, dict):
        kind = _KINDS.get(type(payload), "a JSON value")
        raise InputError(f"{source}: the payload is {kind}, not a Dodo webhook object",
                         hint="a Dodo body looks like {business_id, type, timestamp, data}")
    return Webhook(payload=payload, body=text, source=source, name=name)


class _NotJSON(ValueError):
    """NaN, Infinity or -Infinity, which Python's json accepts and JSON does not have."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> Any:
    raise _NotJSON(token)


def _bare_position(text: str, token: str) -> tuple[int, int]:
    """Line and column (from 1) of the first occurrence of token outside a JSON string."""
    inside = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif inside:
            escaped = char == "\\"
            inside = char != '"'
        elif char == '"':
            inside = True
        elif text.startswith(token, index):
            line = text.count("\n", 0, index) + 1
            return line, index - text.rfind("\n", 0, index)
    raise AssertionError(f"{token} is not in the text")  # json.loads just found it there
