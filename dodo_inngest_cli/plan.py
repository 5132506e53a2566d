"""Turning configuration and command-line choices into transforms, webhooks and checks."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import library
from .config import Config
from .errors import InputError
from .function_runners import is_js
from .functions import FunctionOptions, FunctionStage
from .models import Webhook, matches
from .pipeline import Checks, Expectations, Planned
from .redaction import add_url_secrets
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
    endpoint = choices.endpoint_url or settings.endpoint_url or DEFAULT_ENDPOINT_URL
    add_url_secrets(endpoint)
    return {
        "limits": Limits(time_ms=time_limit, memory_mib=memory, stack_kib=settings.stack_limit,
                         names=limit_names(config, choices)),
        "env": env,
        "endpoint_url": endpoint,
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


def plan_tests(config: Config, choices: Choices, *, paths: Sequence[Path] = (),
               transforms: Sequence[Path] = (), samples: Sequence[str] = (),
               events: Sequence[str] = ()) -> tuple[list[Planned], list[Webhook]]:
    """The transforms and webhooks `test` runs: flags first, then the config's defaults.
    A path argument that is a bundled sample's name (payment.succeeded) is that sample."""
    named = [p for p in paths if is_sample_name(p)]
    found_t, found_p = split_paths([p for p in paths if p not in named])
    transform_paths = [*found_t, *transforms]
    webhooks = [_read(path) for path in found_p] + payloads([*map(str, named), *samples])
    filters = event_filters(config)
    options = transform_options(config, choices)  # a bad limit or env first: it is the cause
    if not transform_paths:
        transform_paths = [config.path(entry.file) for entry in config.settings.transforms]
    if not transform_paths:
        raise InputError("no transform to test",
                         hint="name a .js file, use -t FILE, or list transforms in the config; "
                              "'dodo-inngest init' starts a project with them")
    if not webhooks:
        webhooks = configured_webhooks(config)
    if events:
        webhooks = [w for w in webhooks if matches(w.event_type, events)]
        if not webhooks:
            raise InputError(f"no payload matches --event {' '.join(events)}",
                             hint="event types look like payment.succeeded; try 'payment.*'")
    plan = [Planned(Transform.from_file(shown(path), **options), filters.get(path.resolve()))
            for path in transform_paths]
    return plan, unique_names(webhooks)


def unique_names(webhooks: list[Webhook]) -> list[Webhook]:
    """Samples that share a file name (a/payment.json, b/payment.json) are told apart by their
    path, so each has its own snapshot and its own line in a report."""
    counts = Counter(w.name for w in webhooks)
    return [dataclasses.replace(w, name=str(Path(w.source).with_suffix("")).replace("\\", "/"))
            if counts[w.name] > 1 else w for w in webhooks]


def configured_webhooks(config: Config) -> list[Webhook]:
    """The config's samples (files and folders of them), or the bundled library when it lists
    none."""
    configured = payload_files(config.path(p) for p in config.settings.samples)
    return [_read(path) for path in configured] if configured \
        else library.webhooks()


def event_filters(config: Config) -> dict[Path, tuple[str, ...] | None]:
    """The configured event globs of each transform, by resolved path."""
    return {config.path(entry.file).resolve(): tuple(entry.events) if entry.events else None
            for entry in config.settings.transforms}


def is_sample_name(item: str | Path) -> bool:
    """Whether a payload argument names a bundled sample (payment.succeeded) rather than a
    file or folder: nothing of that name exists, and it has neither a path nor a suffix of
    ours."""
    path = Path(item)
    return not path.exists() and path.suffix not in (".js", ".json") \
        and len(path.parts) == 1 and not str(item).endswith(("/", os.sep))


def payloads(items: Sequence[str | Path]) -> list[Webhook]:
    """Payload arguments, the same for every command: .json files, folders of them (searched
    recursively), or bundled sample names such as payment.succeeded."""
    webhooks: list[Webhook] = []
    for item in items:
        if not is_sample_name(item):
            webhooks += [_read(p) for p in payload_files([Path(item)])]
            continue
        try:
            sample = library.find(str(item))
        except InputError as exc:
            raise InputError(f"{item}: no such payload file or folder, nor a bundled sample "
                             "name", hint=exc.hint) from None
        webhooks.append(library.read(sample.path))
    return webhooks


def _read(path: Path) -> Webhook:
    """A payload file; the bundled library's own files are marked as such."""
    if path.resolve().is_relative_to(library.library_root()):
        return library.read(path)
    return read_webhook(shown(path))


def one_payload(item: str) -> Webhook:
    """The one payload a `run` takes: a .json file or a bundled sample name."""
    found = payloads([item])
    if len(found) != 1:
        raise InputError(f"{item}: holds {len(found)} payloads; run takes one",
                         hint="name one file, or use 'dodo-inngest test' for many")
    return found[0]


def expectations(config: Config, *, snapshots: Path | None = None, update: bool = False,
                 schemas: Path | None = None, triggers: Path | None = None,
                 functions: Sequence[str] = (), python: str | None = None,
                 snapshot_functions: bool = False) -> Expectations:
    """Snapshots, schemas, triggers and the project's functions from flags, else from the
    config. The functions, when there are any, replace the triggers file. Close the result
    when done (it may hold function runners)."""
    settings = config.settings
    snapshot_root = snapshots or (shown(config.path(settings.snapshots)) if settings.snapshots
                                  else None)
    schema_root = schemas or (shown(config.path(settings.schemas)) if settings.schemas else None)
    trigger_file = triggers or (shown(config.path(settings.triggers)) if settings.triggers
                                else None)
    has_functions = bool(functions or settings.functions.targets)
    if snapshot_functions and not (has_functions and snapshot_root):
        raise InputError("--snapshot-functions needs functions (--functions, or [functions] "
                         "targets in the config) and snapshots (--snapshots DIR)",
                         hint="e.g. --functions app:client --snapshots tests/snapshots "
                              "--snapshot-functions")
    store = SnapshotStore(snapshot_root, update=update, ignore=tuple(settings.snapshot_ignore)) \
        if snapshot_root else None
    schema_set = SchemaSet(schema_root) if schema_root else None
    if has_functions:
        return Expectations(snapshots=store, schemas=schema_set,
                            functions=function_stage(config, functions, python, use_config=True),
                            snapshot_functions=snapshot_functions)
    return Expectations(snapshots=store, schemas=schema_set,
                        triggers=load_triggers(trigger_file) if trigger_file else None)


def function_stage(config: Config, targets: Sequence[str] = (), python: str | None = None, *,
                   use_config: bool = False) -> FunctionStage | None:
    """The project's functions, loaded and ready to run: the targets given (files relative to
    the working folder), else with use_config the config's (relative to it); None when there
    are none. Options (steps, time limit, must-reach, unhandled events) come from the config."""
    settings = config.settings.functions
    chosen = [(target, Path(target) if is_js(target) else None) for target in targets] \
        if targets else [(target, config.path(target) if is_js(target) else None)
                         for target in (settings.targets if use_config else [])]
    if not chosen:
        return None
    if python is None and settings.python is not None:
        configured_python = Path(settings.python)
        python = str(config.path(settings.python)) if len(configured_python.parts) > 1 \
            else settings.python
    options = FunctionOptions(
        steps=settings.steps, timeout=settings.timeout,
        must_reach={pattern: tuple(ids) for pattern, ids in settings.must_reach.items()},
        unhandled=tuple(settings.unhandled_events), source=config.source or "the configuration")
    return FunctionStage.start(chosen, root=config.root, python=python, options=options)
