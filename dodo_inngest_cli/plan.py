"""Turning configuration and command-line choices into transforms, webhooks and checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import library
from .config import Config
from .errors import InputError
from .models import Webhook, matches
from .pipeline import Checks, Expectations, Planned
from .rules import check_codes
from .sandbox import DEFAULT_ENDPOINT_URL, LimitNames, Limits, Transform
from .schemas import SchemaSet
from .snapshots import SnapshotStore
from .sources import payload_files, read_webhook, shown, split_paths
from .triggers import load_triggers


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the command line says; None (or empty) leaves the config's value."""

    ignore: Sequence[str] = ()
    strict: bool | None = None
    dodo_check: bool | None = None
    time_limit: float | None = None
    memory_limit: float | None = None
    env: Sequence[str] = ()
    endpoint_url: str | None = None


def checks(config: Config, choices: Choices) -> Checks:
    """The checks to apply: config ignores plus flag ignores, strictness from either."""
    settings = config.settings
    check_codes(list(settings.ignore), source=config.source or "the configuration")
    check_codes(list(choices.ignore), source="--ignore")
    strict = settings.strict if choices.strict is None else choices.strict
    dodo = settings.dodo_check if choices.dodo_check is None else choices.dodo_check
    return Checks(ignore=frozenset([*settings.ignore, *choices.ignore]), strict=strict,
                  dodo_check=dodo)


def transform_options(config: Config, choices: Choices) -> dict[str, Any]:
    """Keyword arguments for Transform: limits, env and endpoint URL."""
    settings = config.settings
    env = dict(settings.env)
    for item in choices.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--env {item!r}: expected KEY=VALUE", hint="e.g. --env REGION=eu")
        env[key] = value
    time_limit = settings.time_limit if choices.time_limit is None else choices.time_limit
    memory = settings.memory_limit if choices.memory_limit is None else choices.memory_limit
    return {
        "limits": Limits(time_ms=time_limit, memory_mib=memory, stack_kib=settings.stack_limit,
                         names=limit_names(config, choices)),
        "env": env,
        "endpoint_url": choices.endpoint_url or settings.endpoint_url or DEFAULT_ENDPOINT_URL,
    }


def limit_names(config: Config, choices: Choices) -> LimitNames:
    """What to call each sandbox limit in an error: its flag, or its key in the config file."""
    where = f"{config.source}: " if config.source else ""
    if config.source.endswith("pyproject.toml"):
        where += "[tool.dodo-inngest] "
    return LimitNames(
        time="--time-limit" if choices.time_limit is not None else f"{where}time-limit",
        memory="--memory-limit" if choices.memory_limit is not None else f"{where}memory-limit",
        stack=f"{where}stack-limit")


def load_transform(path: Path, config: Config, choices: Choices) -> Transform:
    """One transform file, with the limits and env from config and flags."""
    return Transform.from_file(path, **transform_options(config, choices))


def test_plan(config: Config, choices: Choices, *, paths: Sequence[Path] = (),
              transforms: Sequence[Path] = (), samples: Sequence[Path] = (),
              events: Sequence[str] = ()) -> tuple[list[Planned], list[Webhook]]:
    """The transforms and webhooks `test` runs: flags first, then the config's defaults."""
    found_t, found_p = split_paths(paths)
    transform_paths = [*found_t, *transforms]
    payload_paths = [*found_p, *payload_files(samples)]
    filters = event_filters(config)
    if not transform_paths:
        transform_paths = [config.path(entry.file) for entry in config.settings.transforms]
    if not payload_paths:
        payload_paths = payload_files(config.path(p) for p in config.settings.samples)
    if not transform_paths:
        raise InputError("no transform to test",
                         hint="name a .js file, use -t FILE, or list transforms in the config")
    if payload_paths:
        webhooks = [read_webhook(shown(path)) for path in payload_paths]
    else:
        webhooks = library.webhooks()
    if events:
        webhooks = [w for w in webhooks if matches(w.event_type, events)]
        if not webhooks:
            raise InputError(f"no payload matches --event {' '.join(events)}",
                             hint="event types look like payment.succeeded; try 'payment.*'")
    options = transform_options(config, choices)
    plan = [Planned(Transform.from_file(shown(path), **options), filters.get(path.resolve()))
            for path in transform_paths]
    return plan, webhooks


def event_filters(config: Config) -> dict[Path, tuple[str, ...] | None]:
    """The configured event globs of each transform, by resolved path."""
    return {config.path(entry.file).resolve(): tuple(entry.events) if entry.events else None
            for entry in config.settings.transforms}


def send_webhooks(items: Sequence[str]) -> list[Webhook]:
    """Payloads to send: .json files, folders of them, or bundled sample names."""
    if not items:
        raise InputError("no payload to send",
                         hint="name .json files or folders, or bundled samples such as "
                              "payment.succeeded")
    webhooks: list[Webhook] = []
    for item in items:
        path = Path(item)
        if path.exists() or path.suffix == ".json":
            webhooks += [read_webhook(shown(p)) for p in payload_files([path])]
        else:
            sample = library.find(item)
            webhooks.append(read_webhook(shown(sample.path)))
    return webhooks


def expectations(config: Config, *, snapshots: Path | None = None, update: bool = False,
                 schemas: Path | None = None, triggers: Path | None = None) -> Expectations:
    """Snapshots, schemas and triggers from flags, else from the config."""
    settings = config.settings
    snapshot_root = snapshots or (config.path(settings.snapshots) if settings.snapshots
                                  else None)
    schema_root = schemas or (config.path(settings.schemas) if settings.schemas else None)
    trigger_file = triggers or (config.path(settings.triggers) if settings.triggers else None)
    return Expectations(
        snapshots=SnapshotStore(snapshot_root, update=update,
                                ignore=tuple(settings.snapshot_ignore)) if snapshot_root
        else None,
        schemas=SchemaSet(schema_root) if schema_root else None,
        triggers=load_triggers(trigger_file) if trigger_file else None)
