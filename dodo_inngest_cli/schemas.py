"""JSON Schemas per Inngest event name: validate what a transform sends, and infer a start.

A schema for `dodo/payment.succeeded` lives at `DIR/dodo/payment.succeeded.json` and validates
the event's `data`; a schema with `"x-dodo-inngest-validates": "event"` validates the whole
event instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import write_new_files
from .jsonio import pointer, read_json_file
from .rules import Finding, finding

SCOPE_KEY = "x-dodo-inngest-validates"


def schema_path(root: Path, name: str) -> Path:
    """Where the schema for an event name lives."""
    parts = [part for part in name.split("/") if part not in ("", ".", "..")] or ["_"]
    return root.joinpath(*parts[:-1], parts[-1] + ".json")


class SchemaSet:
    """The schemas in one folder, loaded and checked once each, on first use."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InputError(f"{root}: no such schemas folder",
                             hint="create it, or run 'dodo-inngest schema infer' to start one")
        self.root = root
        self._loaded: dict[str, Any] = {}

    def validator(self, name: str) -> Any:
        """The validator for an event name, or None when it has no schema."""
        if name not in self._loaded:
            self._loaded[name] = self._load(schema_path(self.root, name))
        return self._loaded[name]

    def _load(self, path: Path) -> Any:
        if not path.is_file():
            return None
        from jsonschema import SchemaError, validators

        schema = read_json_file(path, what="schema file",
                                hint="a schema file holds one JSON Schema object")
        cls = validators.validator_for(schema) if isinstance(schema, dict) else None
        try:
            if cls is None:
                raise SchemaError(f"{schema!r} is not of type 'object', 'boolean'")
            cls.check_schema(schema)
        except SchemaError as exc:
            where = "/" + "/".join(str(p) for p in exc.path) if exc.path else "/"
            raise InputError(f"{path}: not a valid JSON Schema at {where}: {exc.message}",
                             hint="see https://json-schema.org/understanding-json-schema/") \
                from None
        return cls(schema)

    def check(self, payload: Any) -> list[Finding]:
        """schema-mismatch findings for every event in the payload that has a schema."""
        events = payload if isinstance(payload, list) else [payload]
        findings: list[Finding] = []
        for index, event in enumerate(events):
            if not isinstance(event, dict) or not isinstance(event.get("name"), str):
                continue
            validator = self.validator(event["name"])
            if validator is None:
                continue
            whole = validator.schema.get(SCOPE_KEY) == "event"
            prefix = (f"/{index}" if isinstance(payload, list) else "") + ("" if whole
                                                                              else "/data")
            subject = event if whole else event.get("data")
            for error in sorted(validator.iter_errors(subject), key=lambda e: list(e.path)):
                where = prefix + pointer(error.path)
                findings.append(finding(
                    "schema-mismatch", f"{where or '/'}: {error.message}", path=where,
                    hint=f"the schema is {schema_path(self.root, event['name'])}"))
        return findings


def infer(events: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """A starting schema for the `data` of each event name seen, merged over all events."""
    from genson import SchemaBuilder

    builders: dict[str, Any] = {}
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("name"), str) \
                and isinstance(event.get("data"), dict):
            builder = builders.setdefault(event["name"], SchemaBuilder())
            builder.add_object(event["data"])
    schemas = {}
    for name, builder in sorted(builders.items()):
        schema = builder.to_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"data of {name}"
        schemas[name] = schema
    return schemas


def write_schemas(root: Path, payloads: Iterable[Any], *, force: bool = False) -> list[Path]:
    """Infer a schema per event name from the payloads and write them under root."""
    events = [e for p in payloads for e in (p if isinstance(p, list) else [p])]
    schemas = infer(events)
    if not schemas:
        raise InputError("no event to infer a schema from",
                         hint="the transforms produced no passing event; run 'dodo-inngest "
                              "test' to see why")
    files: dict[Path, str | bytes] = {schema_path(root, name): json.dumps(schema, indent=2)
                                      + "\n" for name, schema in schemas.items()}
    return write_new_files(files, force=force, hint="--force overwrites them")
