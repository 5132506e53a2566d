"""Property-based robustness: generated Dodo payloads, valid under the official models.

Generation uses Hypothesis, with strategies derived from the `dodopayments` pydantic models'
type annotations (null where nullable, optional fields absent, every literal value such as every
currency, edge-length and non-ASCII strings, boundary amounts and timestamps). Hypothesis gives
seeded, reproducible runs and shrinking to a minimal reproducer. (hypothesis-jsonschema, the
JSON-Schema route, is unmaintained and fails with current Hypothesis; factory libraries cannot
shrink.)
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import random
import types
import typing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .dodo import event_models
from .errors import InputError
from .models import Status, Webhook
from .pipeline import Checks, evaluate
from .rules import Severity
from .sandbox import Transform
from .snapshots import Change, diff
from .sources import parse_webhook

EDGE_INTS = [0, 1, -1, 99, 100, 101, 999, 1000, 2**31 - 1, 2**53 - 1, 2**53 + 1]
EDGE_STRINGS = ["", " ", "0", "null", "ü", "山田", "😀", "a" * 255, "x" * 1000, "<b>é</b>",
                "O'Brien \"Jr\"", "line\nbreak"]


def _strategies() -> Any:
    from hypothesis import strategies

    return strategies


def strings() -> Any:
    """Strings that break code: empty, edge lengths, non-ASCII, quotes, control characters."""
    st = _strategies()
    return st.one_of(st.sampled_from(EDGE_STRINGS), st.text(max_size=30))


def integers() -> Any:
    """Amounts and counts: boundaries first, then any 32-bit value."""
    st = _strategies()
    return st.one_of(st.sampled_from(EDGE_INTS), st.integers(-(2**31), 2**31 - 1))


def timestamps() -> Any:
    """ISO-8601 times from 2000 to 2099, in the shapes real APIs send (Z, offsets, millis)."""
    st = _strategies()
    moments = st.one_of(
        st.sampled_from([dt.datetime(2000, 1, 1), dt.datetime(2024, 2, 29, 23, 59, 59, 999000),
                         dt.datetime(2038, 1, 19, 3, 14, 8), dt.datetime(2099, 12, 30, 23, 59)]),
        st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 30)))
    offsets = st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                               dt.timezone(dt.timedelta(hours=-8))])
    shapes = st.sampled_from(["milliseconds", "seconds", "microseconds"])

    def render(parts: tuple[dt.datetime, dt.timezone, str]) -> str:
        moment, offset, shape = parts
        text = moment.replace(tzinfo=offset).isoformat(timespec=shape)
        return text.replace("+00:00", "Z")

    return st.tuples(moments, offsets, shapes).map(render)


def type_strategy(annotation: Any, seen: frozenset[type] = frozenset()) -> Any:
    """A strategy for values of a pydantic field annotation, as they appear in JSON."""
    from pydantic import BaseModel

    st = _strategies()
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return st.none()
    if origin in (typing.Union, types.UnionType):
        return st.one_of([type_strategy(arg, seen) for arg in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin is typing.Annotated:
        return type_strategy(args[0], seen)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK's annotations use typing.List
        return st.lists(type_strategy(args[0], seen), max_size=3)
    if origin in (dict, typing.Dict):  # noqa: UP006
        return st.dictionaries(st.text(min_size=1, max_size=12),
                               type_strategy(args[1], seen), max_size=3)
    if annotation is str:
        return strings()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return integers()
    if annotation is float:
        return st.one_of(st.sampled_from([0.0, 0.5, -1.0, 1e15]),
                         st.floats(allow_nan=False, allow_infinity=False, width=32))
    if annotation is dt.datetime:
        return timestamps()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return st.none()
        return model_strategy(annotation, seen | {annotation})
    raise InputError(f"cannot generate values of {annotation!r} for fuzzing",
                     hint="the installed dodopayments SDK has a type dodo-inngest does not know")


def model_strategy(model: Any, seen: frozenset[type] = frozenset()) -> Any:
    """Objects for a pydantic model: required fields always, optional ones present or absent."""
    st = _strategies()
    required: dict[str, Any] = {}
    optional: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        strategy = type_strategy(field.annotation, seen)
        (required if field.is_required() else optional)[field.alias or name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def event_strategy(event_type: str) -> Any:
    """Whole Dodo webhook bodies of one event type, valid under the official model."""
    st = _strategies()
    models = event_models()
    if event_type not in models:
        raise InputError(f"'{event_type}' is not a Dodo event type the SDK knows",
                         hint="'dodo-inngest samples list' shows them")
    model = models[event_type]
    body = st.fixed_dictionaries({
        "business_id": st.one_of(st.just("bus_2Nv8cQxV6tB3kLm9WpR4"), strings()),
        "type": st.just(event_type),
        "timestamp": timestamps(),
        "data": model_strategy(model.model_fields["data"].annotation),
    })

    def valid(candidate: dict[str, Any]) -> bool:
        try:
            model.model_validate_json(json.dumps(candidate), strict=True)
        except ValueError:
            return False
        return True

    return body.filter(valid)


@dataclasses.dataclass(frozen=True)
class Reproducer:
    """The minimal payload found for one failing rule code."""

    code: str
    payload: dict[str, Any]
    message: str
    changes: list[Change]
    """How it differs from the bundled sample of its type."""
    saved: Path | None = None


@dataclasses.dataclass(frozen=True)
class FuzzReport:
    """One transform fuzzed over one event type."""

    transform: str
    event_type: str
    tried: int
    failures: dict[str, int]
    reproducers: list[Reproducer]

    @property
    def ok(self) -> bool:
        """No generated payload failed."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {"transform": self.transform, "event_type": self.event_type,
                "tried": self.tried, "failures": self.failures,
                "reproducers": [{"code": r.code, "message": r.message, "payload": r.payload,
                                 "diff": [c.to_json() for c in r.changes],
                                 "saved": str(r.saved) if r.saved else None}
                                for r in self.reproducers]}


def failing_codes(transform: Transform, payload: dict[str, Any],
                  checks: Checks) -> dict[str, str]:
    """The errors one payload gets, as `code` (or `code@line` for a JS fault at a line, so
    two throw sites are two bugs) → message; empty when it passes."""
    text = json.dumps(payload, ensure_ascii=False)
    webhook = Webhook(payload=payload, body=text, source="<fuzz>", name="fuzz")
    result = evaluate(transform, webhook, checks)
    if result.status not in (Status.FAILED, Status.ERROR):
        return {}
    return {f"{f.code}@{f.line}" if f.line else f.code: f.message for f in result.findings
            if f.severity is Severity.ERROR}


def fuzz(transform: Transform, event_type: str, *, examples: int, seed: int,
         checks: Checks, baseline: dict[str, Any] | None = None,
         save_to: Path | None = None) -> FuzzReport:
    """Run `examples` generated payloads through the transform; shrink one per failing code."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import find as hypothesis_find
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import NoSuchExample

    strategy = event_strategy(event_type)
    quiet = settings(database=None, deadline=None, derandomize=False,
                     suppress_health_check=list(HealthCheck), print_blob=False)
    failures: Counter[str] = Counter()
    kinds: set[str] = set()
    tried = 0

    @hypothesis_seed(seed)
    @settings(quiet, max_examples=examples, phases=[Phase.generate])
    @given(strategy)
    def explore(payload: dict[str, Any]) -> None:
        nonlocal tried
        tried += 1
        found = failing_codes(transform, payload, checks)
        kinds.update(found)
        failures.update({key.split("@")[0] for key in found})

    explore()
    reproducers = []
    for code in sorted(kinds):
        def fails_with(payload: dict[str, Any], code: str = code) -> bool:
            return code in failing_codes(transform, payload, checks)

        def still_valid_and_failing(payload: dict[str, Any], code: str = code) -> bool:
            return fails_with(payload, code) and _valid(event_type, payload)

        if baseline is not None and fails_with(baseline, code):
            minimal = baseline  # the bundled sample itself fails: nothing smaller to find
        else:
            try:
                minimal = hypothesis_find(
                    strategy, fails_with, random=random.Random(seed),
                    settings=settings(quiet, max_examples=max(examples, 100)))
            except NoSuchExample:
                continue
            if baseline is not None:
                minimal = closest_to(baseline, minimal, still_valid_and_failing)
        message = failing_codes(transform, minimal, checks).get(code, "")
        saved = _save(save_to, transform, event_type, code.replace("@", "-line"), minimal) \
            if save_to else None
        reproducers.append(Reproducer(code.split("@")[0], minimal, message,
                                      diff(baseline, minimal) if baseline else [], saved))
    return FuzzReport(transform.path, event_type, tried, dict(sorted(failures.items())),
                      reproducers)


def closest_to(sample: dict[str, Any], failing: dict[str, Any],
               still_fails: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The failing payload with as many of its differences from the sample undone as can be
    while it still fails: the sample plus only the changes that matter."""
    current = copy.deepcopy(failing)
    for change in diff(sample, failing):
        attempt = copy.deepcopy(current)
        _set(attempt, change.path, change.old, remove=change.kind == "added")
        if still_fails(attempt):
            current = attempt
    return current


def _set(document: Any, pointer: str, value: Any, *, remove: bool) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/")]
    node = document
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            return
    last = parts[-1]
    if isinstance(node, list):
        if last.isdigit() and int(last) < len(node):
            node[int(last)] = value
        elif last.isdigit() and not remove:
            node.append(value)
    elif remove:
        node.pop(last, None)
    else:
        node[last] = value


def _valid(event_type: str, payload: dict[str, Any]) -> bool:
    try:
        event_models()[event_type].model_validate_json(json.dumps(payload), strict=True)
    except ValueError:
        return False
    return True


def _save(folder: Path, transform: Transform, event_type: str, code: str,
          payload: dict[str, Any]) -> Path:
    path = folder / f"{event_type}.{Path(transform.path).stem}.{code}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot save the reproducer: {exc.strerror}") from None
    return path


def handled_types(transform: Transform, samples: Callable[[str], Webhook | None],
                  types_: list[str], checks: Checks) -> list[str]:
    """The event types the transform shapes: its bundled sample is neither cancelled nor
    passed through raw."""
    handled = []
    for event_type in types_:
        webhook = samples(event_type)
        if webhook is None:
            continue
        result = evaluate(transform, webhook, Checks(dodo_check=False, ignore=checks.ignore))
        if result.status is not Status.CANCELLED and \
                not any(f.code == "passthrough" for f in result.findings):
            handled.append(event_type)
    return handled


def sample_body(event_type: str) -> Webhook | None:
    """The bundled sample of an event type, if there is one."""
    from .library import library_root

    path = library_root() / f"{event_type}.json"
    if not path.is_file():
        return None
    return parse_webhook(path.read_bytes(), source=str(path), name=event_type)


def fuzz_plan(plan: list[Any], *, examples: int, seed: int, checks: Checks,
              events: tuple[str, ...] = (), save_to: Path | None = None,
              on_start: Callable[[int], None] | None = None,
              on_report: Callable[[FuzzReport], None] | None = None) -> list[FuzzReport]:
    """Fuzz every planned transform over each event type it handles (and the filters allow).

    on_start gets how many transform × event type runs there will be; on_report each report.
    """
    from .models import matches

    work = []
    for planned in plan:
        types_ = [t for t in sorted(event_models()) if planned.handles(t)
                  and (not events or matches(t, events))]
        work += [(planned.transform, event_type) for event_type
                 in handled_types(planned.transform, sample_body, types_, checks)]
    if on_start is not None:
        on_start(len(work))
    reports = []
    for transform, event_type in work:
        sample = sample_body(event_type)
        report = fuzz(transform, event_type, examples=examples, seed=seed, checks=checks,
                      baseline=sample.payload if sample else None, save_to=save_to)
        reports.append(report)
        if on_report is not None:
            on_report(report)
    return reports
