"""Where webhooks and transforms come from: files, folders and standard input."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError
from .jsonio import parse_json
from .models import Webhook

_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
          bool: "a boolean", type(None): "null"}
TRANSFORM_SUFFIXES = (".js", ".cjs", ".mjs")
PAYLOAD_SUFFIXES = (".json",)


def content_key(payload: object) -> str:
    """The identity of a payload given as a file: a hash of its content, whatever its name or
    formatting, so two files holding different payments are two deliveries."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return "body-" + hashlib.sha256(canonical.encode()).hexdigest()[:24]


def shown(path: Path) -> Path:
    """The path relative to the working directory when it lies below it, for output."""
    try:
        return path.resolve().relative_to(_resolved(os.getcwd()))
    except ValueError:
        return path


@functools.lru_cache(maxsize=8)
def _resolved(folder: str) -> Path:
    return Path(folder).resolve()


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
        raise InputError(f"{path}: no such payload file",
                         hint="check the path (relative to the current folder)") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a payload file",
                         hint="folders go where payloads do: -s FOLDER") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_webhook(data, source=str(path), name=path.stem)


def parse_webhook(data: bytes, *, source: str, name: str, embedded: bool = False) -> Webhook:
    """Parse a Dodo webhook body; errors name the source, line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start})",
                         hint="Dodo sends UTF-8 JSON; save the file as UTF-8") from None
    text = text.removeprefix("\ufeff")
    payload = parse_json(text, source=source, hint="a webhook body is one JSON object",
                         embedded=embedded)
    if not isinstance(payload, dict):
        kind = _KINDS.get(type(payload), "a JSON value")
        raise InputError(f"{source}: the payload is {kind}, not a Dodo webhook object",
                         hint="a Dodo body looks like {business_id, type, timestamp, data}")
    return Webhook(payload=payload, body=text, source=source, name=name)
