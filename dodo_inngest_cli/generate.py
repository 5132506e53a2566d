"""Seeded Dodo payloads generated from the official `dodopayments` models' type annotations.

Each model is compiled once into small drawing functions, one per field, so a payload costs
tens of microseconds instead of the milliseconds a Hypothesis strategy of the same shape takes.
Payload number `index` of a run seeded `seed` is drawn from its own `random.Random` seeded with
(seed, event type, index): a run gives the same payloads in whatever order, and in whichever
process, they are generated. Every payload is checked strictly against the official model
before it is used.

Values lean toward the ones that break code: null where nullable, optional fields absent, every
literal value (every currency, status…), empty, edge-length and non-ASCII strings (including
characters outside the BMP, which a JavaScript `slice` can cut into lone surrogates), boundary
amounts and timestamps (offsets, a leap day, 2038).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import string
import types
import typing
from collections.abc import Callable
from typing import Any

from .dodo import event_models
from .errors import InputError

Draw = Callable[[random.Random], Any]
"""Draws one JSON value from a random source."""

EDGE_INTS = [0, 1, -1, 99, 100, 101, 999, 1000, 2**31 - 1, 2**53 - 1, 2**53 + 1]
EDGE_STRINGS = ["", " ", "0", "null", "ü", "山田", "😀", "a" * 255, "x" * 1000, "<b>é</b>",
                "O'Brien \"Jr\"", "line\nbreak"]
EDGE_FLOATS = [0.0, 0.5, -1.0, 1e15]
EDGE_MOMENTS = [dt.datetime(2000, 1, 1), dt.datetime(2024, 2, 29, 23, 59, 59, 999000),
                dt.datetime(2038, 1, 19, 3, 14, 8), dt.datetime(2099, 12, 30, 23, 59)]
BUSINESS_ID = "bus_2Nv8cQxV6tB3kLm9WpR4"

ABSENT = 0.25
"""The chance an optional field is left out."""
NULL = 0.25
"""The chance a nullable value is null."""
EDGE = 0.4
"""The chance a string, number or time is one of the edge values."""
MAX_ATTEMPTS = 20
"""Draws tried for one payload before the model is declared impossible to satisfy."""

_FIRST_DAY = dt.date(2000, 1, 1).toordinal()
_DAYS = dt.date(2099, 12, 30).toordinal() - _FIRST_DAY
_EDGE_CLOCKS = [(moment.isoformat(timespec="seconds"), moment.microsecond)
                for moment in EDGE_MOMENTS]
_OFFSETS = ("Z", "+05:30", "-08:00")
# What random strings are made of: mostly printable ASCII, then control characters, accents,
# right-to-left scripts, CJK, combining marks, invisible characters and characters outside
# the BMP (two UTF-16 units each in JavaScript).
_ALPHABET = ((string.ascii_letters + string.digits + string.punctuation + " ") * 4
             + "\x00\t\n\r\x1b\x7f" + "àéîõüßñçÅØ" + "مرحباשלום" + "山田東京"
             + "\u0301\u0308" + "\u00a0\u200b\u2028\u2029\ufeff\u202e" + "😀🎉👍🏽𝕏")
# Random strings are cut from one long random text: a slice costs far less than drawing
# each character, and 8,192 starting points give variety enough.
_BANK = "".join(random.Random(0).choices(_ALPHABET, k=8192 + 64))


def pick(rng: random.Random, values: typing.Sequence[Any]) -> Any:
    """One of the values (rng.choice, at a third of the cost)."""
    return values[int(rng.random() * len(values))]


def text(rng: random.Random, low: int = 0, high: int = 30) -> str:
    """A random string of low to high characters."""
    start = int(rng.random() * 8192)
    return _BANK[start:start + low + int(rng.random() * (high - low + 1))]


def strings(rng: random.Random) -> str:
    """Strings that break code: empty, edge lengths, non-ASCII, quotes, control characters."""
    return pick(rng, EDGE_STRINGS) if rng.random() < EDGE else text(rng)


def integers(rng: random.Random) -> int:
    """Amounts and counts: boundaries, small values, then any 32-bit value."""
    roll = rng.random()
    if roll < EDGE:
        return int(pick(rng, EDGE_INTS))
    if roll < 0.7:
        return int(rng.random() * 10_001)
    return rng.randint(-(2**31), 2**31 - 1)


def floats(rng: random.Random) -> float:
    """Finite floats: boundaries, then any value of a wide range."""
    return float(pick(rng, EDGE_FLOATS)) if rng.random() < EDGE else rng.uniform(-1e9, 1e9)


def timestamps(rng: random.Random) -> str:
    """ISO-8601 times from 2000 to 2099, in the shapes real APIs send (Z, offsets, millis)."""
    if rng.random() < EDGE:
        clock, micro = pick(rng, _EDGE_CLOCKS)
    else:
        day = dt.date.fromordinal(_FIRST_DAY + int(rng.random() * _DAYS)).isoformat()
        second = int(rng.random() * 86_400)
        clock = f"{day}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        micro = int(rng.random() * 1_000_000)
    fraction = pick(rng, ("", f".{micro // 1000:03d}", f".{micro:06d}"))
    return f"{clock}{fraction}{pick(rng, _OFFSETS)}"


def booleans(rng: random.Random) -> bool:
    """True or false."""
    return rng.random() < 0.5


_SCALARS: dict[Any, Draw] = {str: strings, int: integers, float: floats, bool: booleans,
                             dt.datetime: timestamps}


def compile_type(annotation: Any, seen: frozenset[type] = frozenset()) -> Draw:
    """A drawing function for values of a pydantic field annotation, as they appear in JSON."""
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return _union([compile_type(arg, seen) for arg in args if arg is not type(None)],
                      nullable=type(None) in args)
    if origin is typing.Literal:
        return functools.partial(_literal, args)
    if origin is typing.Annotated:
        return compile_type(args[0], seen)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK's annotations use typing.List
        return functools.partial(_list, compile_type(args[0], seen))
    if origin in (dict, typing.Dict):  # noqa: UP006
        return functools.partial(_dict, compile_type(args[1], seen))
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            raise InputError(f"cannot generate values of the recursive model {annotation!r}",
                             hint="the installed dodopayments SDK has a shape dodo-inngest "
                                  "does not know")
        return compile_model(annotation, seen | {annotation})
    raise InputError(f"cannot generate values of {annotation!r} for fuzzing",
                     hint="the installed dodopayments SDK has a type dodo-inngest does not know")


def compile_model(model: Any, seen: frozenset[type] = frozenset()) -> Draw:
    """A drawing function for objects of a pydantic model: required fields always, optional
    ones present or absent."""
    fields = [(field.alias or name, compile_type(field.annotation, seen), field.is_required())
              for name, field in model.model_fields.items()]

    def draw(rng: random.Random) -> dict[str, Any]:
        return {name: value(rng) for name, value, required in fields
                if required or rng.random() >= ABSENT}

    return draw


def _union(options: list[Draw], *, nullable: bool) -> Draw:
    if not nullable:
        return functools.partial(_either, options)
    if len(options) == 1:
        return functools.partial(_or_null, options[0])
    return functools.partial(_or_null, functools.partial(_either, options))


def _either(options: list[Draw], rng: random.Random) -> Any:
    return pick(rng, options)(rng)


def _or_null(option: Draw, rng: random.Random) -> Any:
    return None if rng.random() < NULL else option(rng)


def _literal(values: tuple[Any, ...], rng: random.Random) -> Any:
    return pick(rng, values)


def _list(item: Draw, rng: random.Random) -> list[Any]:
    return [item(rng) for _ in range(int(rng.random() * 4))]


def _dict(value: Draw, rng: random.Random) -> dict[str, Any]:
    return {text(rng, 1, 12): value(rng) for _ in range(int(rng.random() * 4))}


@functools.cache
def body_draw(event_type: str) -> Draw:
    """A drawing function for whole Dodo webhook bodies of one event type."""
    models = event_models()
    if event_type not in models:
        raise InputError(f"'{event_type}' is not a Dodo event type the SDK knows",
                         hint="'dodo-inngest samples list' shows them")
    data = compile_type(models[event_type].model_fields["data"].annotation)

    def draw(rng: random.Random) -> dict[str, Any]:
        return {"business_id": BUSINESS_ID if rng.random() < 0.5 else strings(rng),
                "type": event_type, "timestamp": timestamps(rng), "data": data(rng)}

    return draw


def payload(event_type: str, seed: int, index: int) -> tuple[dict[str, Any], str]:
    """Payload number `index` of the run seeded `seed`, and its JSON text."""
    return valid_draw(event_models()[event_type], body_draw(event_type),
                      f"{seed}/{event_type}/{index}")


def valid_draw(model: Any, draw: Draw, key: str) -> tuple[Any, str]:
    """A value from draw that the model accepts strictly, and its JSON text; reproducible
    from key alone. Redraws (up to MAX_ATTEMPTS) when the model constrains values beyond
    their types."""
    for attempt in range(MAX_ATTEMPTS):
        value = draw(random.Random(f"{key}/{attempt}"))
        shown = json.dumps(value, ensure_ascii=False)
        if is_valid(model, shown):
            return value, shown
    raise InputError(f"cannot generate values valid under {model.__name__}",
                     hint="the installed dodopayments SDK constrains values in a way "
                          "dodo-inngest does not know")


def is_valid(model: Any, shown: str) -> bool:
    """Whether the model accepts the JSON text strictly."""
    try:
        model.model_validate_json(shown, strict=True)
    except ValueError:
        return False
    return True


def simplest(annotation: Any) -> Any:
    """The plainest value of an annotation: null where nullable, "", 0, false, the first
    literal, empty lists and objects, a model's required fields only."""
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return None if type(None) in args else simplest(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin is typing.Annotated:
        return simplest(args[0])
    if origin in (list, typing.List):  # noqa: UP006
        return []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {field.alias or name: simplest(field.annotation)
                for name, field in annotation.model_fields.items() if field.is_required()}
    plain: dict[Any, Any] = {str: "", int: 0, float: 0.0, bool: False,
                             dt.datetime: "2000-01-01T00:00:00Z"}
    return plain[annotation]


def simplest_body(event_type: str) -> dict[str, Any]:
    """The plainest webhook body of an event type: what a failure is reduced toward when
    there is no bundled sample."""
    model = event_models()[event_type]
    return {"business_id": "", "type": event_type, "timestamp": "2000-01-01T00:00:00Z",
            "data": simplest(model.model_fields["data"].annotation)}
