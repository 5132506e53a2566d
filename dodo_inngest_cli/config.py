"""Configuration: `[tool.dodo-inngest]` in pyproject.toml or a dodo-inngest.toml, found upward."""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_FILE = "dodo-inngest.toml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True,
                              alias_generator=lambda name: name.replace("_", "-"))


class TransformEntry(_Model):
    """One configured transform and the Dodo event types it handles."""

    file: str
    events: list[str] | None = None


class FunctionSettings(_Model):
    """The project's own Inngest functions, run on the transformed events (`[functions]`; a
    plain list is the targets)."""

    targets: list[str] = Field(default_factory=list)
    """Python `module:attribute`s and JavaScript/TypeScript files."""
    python: str | None = None
    """The interpreter for Python targets (default: the one running dodo-inngest)."""
    timeout: float = Field(default=5.0, gt=0)
    """Seconds per function run."""
    steps: dict[str, Any] = Field(default_factory=dict)
    """Step id → the value the step gives instead of running or waiting."""
    must_reach: dict[str, list[str]] = Field(default_factory=dict)
    """Event-name pattern → ids of the functions its events must trigger."""
    unhandled_events: list[str] = Field(default_factory=list)
    """Event-name patterns no function needs to handle."""


class Settings(_Model):
    """Every setting the config file may hold; flags override them."""

    transforms: list[TransformEntry] = Field(default_factory=list)
    samples: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    ignore_events: list[str] = Field(default_factory=list)
    """Dodo event types (globs) the project deliberately does not send: not unhandled."""
    strict: bool = False
    dodo_check: bool = True
    snapshots: str | None = None
    """Folder of snapshots."""
    snapshot_ignore: list[str] = Field(default_factory=list)
    """JSON-pointer patterns of volatile values snapshots do not compare."""
    schemas: str | None = None
    """Folder of JSON Schemas per event name."""
    triggers: str | None = None
    """File of Inngest function triggers."""
    endpoint_url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    time_limit: float = 100.0
    """Milliseconds per delivery (the sandbox checks the range, for flags too)."""
    memory_limit: float = 25.0
    """MiB per delivery."""
    stack_limit: int = 1024
    """KiB of JS stack."""
    functions: FunctionSettings = Field(default_factory=FunctionSettings)

    @field_validator("functions", mode="before")
    @classmethod
    def _targets_only(cls, value: Any) -> Any:
        """`functions = [...]` is short for `[functions] targets = [...]`."""
        return {"targets": value} if isinstance(value, list) else value


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings and the folder relative paths in them are resolved against."""

    settings: Settings
    root: Path
    source: str
    """The file they came from, or '' for defaults."""

    def path(self, value: str) -> Path:
        """A path from the config, resolved against the config file's folder."""
        return self.root / value


def find_config(start: Path) -> Path | None:
    """The nearest dodo-inngest.toml, or pyproject.toml with [tool.dodo-inngest], upward."""
    for folder in (start, *start.parents):
        own = folder / CONFIG_FILE
        if own.is_file():
            return own
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _mentions_us(pyproject) \
                and "dodo-inngest" in _tool(_read_toml(pyproject)):
            return pyproject
    return None


def _tool(document: dict[str, Any]) -> dict[str, Any]:
    """A TOML document's [tool] table; {} when it has none, or `tool` is not a table."""
    tool = document.get("tool")
    return tool if isinstance(tool, dict) else {}


def _mentions_us(pyproject: Path) -> bool:
    """Whether a pyproject.toml may hold our table: another project's file, however broken,
    on the way up is none of our business."""
    try:
        return b"dodo-inngest" in pyproject.read_bytes()
    except OSError:
        return False


def load_config(path: Path | None = None, *, start: Path | None = None) -> Config:
    """Load the given config file, or the one found upward from start (or the cwd)."""
    if path is None:
        path = find_config((start or Path.cwd()).resolve())
        if path is None:
            return Config(Settings(), (start or Path.cwd()).resolve(), "")
    document = _read_toml(path)
    nested = _tool(document).get("dodo-inngest") if set(document) == {"tool"} else None
    if path.name == "pyproject.toml" or isinstance(nested, dict):
        # pyproject.toml; or a dodo-inngest.toml written in pyproject's form, copied over
        table = _tool(document).get("dodo-inngest")
        if table is None:
            raise ConfigError(f"{path}: no [tool.dodo-inngest] table",
                              hint="add one (README: Configuration), or name a "
                                   "dodo-inngest.toml")
        prefix = "[tool.dodo-inngest]"
    else:
        table, prefix = document, ""
    try:
        settings = Settings.model_validate(table)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _location(prefix, error["loc"])
        if error["type"] == "extra_forbidden":
            message = f"{path}: {where}: unknown key"
            known = sorted(f.alias or n for n, f in _model_for(error["loc"]).model_fields.items())
            close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
            hint = (f"did you mean '{close[0]}'? " if close else "") + "known keys: " + \
                ", ".join(known)
        else:
            said = re.sub(r" or instance of \w+$", "", error["msg"])  # pydantic's class names
            message = f"{path}: {where}: {said[0].lower()}{said[1:]}" if where else \
                f"{path}: {said[0].lower()}{said[1:]}"
            hint = "see the Configuration section of the README"
        raise ConfigError(message, hint=hint) from None
    return Config(settings, path.parent.resolve(), str(path))


def _model_for(loc: tuple[Any, ...]) -> type[_Model]:
    if loc and loc[0] == "transforms":
        return TransformEntry
    return FunctionSettings if loc and loc[0] == "functions" else Settings


def _location(prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [prefix] if prefix else []
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    if text:
        parts.append(text)
    return " ".join(parts)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            document: dict[str, Any] = tomllib.load(handle)
            return document
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})",
                          hint="TOML files are UTF-8; save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
