"""Which payload fields a transform reads, what the official Dodo model says about each, and
whether the transform survives the ones the model lets be null or absent.

The sandbox records the reads: the handler sees `webhook.payload` through a proxy that notes
the JSON pointer of every field it reads (`*` for array items) until its result settles.
Whether a read is guarded is decided by running again, one field at a time: with the field
set to null (when the model makes it nullable) and without it (when optional). The read is
guarded when neither run has an error the sample's own run did not have. This sees what `?.`,
`??`, `typeof` checks and try/catch protect against, whichever the code uses. Its limits: one
field at a time (not two absent together), only null and absence (an empty string or a zero
amount is fuzzing's job), and reads made after the handler returned (a value handed on
whole and serialised later) count as one read of the whole value.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from typing import Any

from .jsonio import pointer_parts
from .models import Result, Webhook
from .pipeline import Checks, evaluate
from .rules import Severity
from .sandbox import Transform

NULL = "null"
ABSENT = "absent"


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """What the official model says about one payload path."""

    known: bool
    """The model has this field (a read of anything else is undefined in valid payloads)."""
    nullable: bool = False
    optional: bool = False

    @property
    def loose(self) -> bool:
        """May be null or absent in valid payloads (a field the model lacks may be absent)."""
        return self.nullable or self.optional or not self.known

    @property
    def variants(self) -> tuple[str, ...]:
        """How valid payloads may lack it: `null`, `absent`, or both."""
        if not self.known:
            return (ABSENT,)
        return (NULL,) * self.nullable + (ABSENT,) * self.optional

    def describe(self) -> str:
        """'required', 'nullable', 'optional', 'optional, nullable' or 'not in the model'."""
        if not self.known:
            return "not in the model"
        words = [word for word, flag in (("optional", self.optional),
                                         ("nullable", self.nullable)) if flag]
        return ", ".join(words) or "required"


@dataclasses.dataclass(frozen=True)
class Break:
    """A run with one field null or absent that failed where the sample's run did not."""

    when: str
    """`null` or `absent`."""
    code: str
    message: str


@dataclasses.dataclass(frozen=True)
class FieldRead:
    """One payload field the transform read."""

    path: str
    """JSON pointer, `*` for any array item: /data/customer/email."""
    spec: FieldSpec
    breaks: tuple[Break, ...] = ()

    @property
    def name(self) -> str:
        """The dotted name people use: data.customer.email."""
        return ".".join(_parts(self.path))

    @property
    def guarded(self) -> bool | None:
        """Whether the transform survives the field being null or absent (None when the model
        requires it)."""
        return not self.breaks if self.spec.loose else None

    def to_json(self) -> dict[str, Any]:
        """The read as the JSON coverage report shows it."""
        return {"path": self.path, "field": self.name, "in_model": self.spec.known,
                "nullable": self.spec.nullable, "optional": self.spec.optional,
                "guarded": self.guarded,
                "breaks": [{"when": b.when, "code": b.code, "message": b.message}
                           for b in self.breaks]}


def field_spec(event_type: str, path: str) -> FieldSpec:
    """The official model's word on a payload path of an event type (unknown type or path:
    not known)."""
    from pydantic import BaseModel

    from .dodo import event_models

    model = event_models().get(event_type)
    if model is None:
        return FieldSpec(known=False)
    candidates: list[Any] = [model]
    spec = FieldSpec(known=True)
    for part in _parts(path):
        found: list[Any] = []
        nullable = optional = False
        for annotation in _concrete(candidates):
            origin = typing.get_origin(annotation)
            if origin is list and (part == "*" or part.isdigit()):
                found.append(typing.get_args(annotation)[0])
            elif origin is dict:
                found.append(typing.get_args(annotation)[1])
                optional = True  # any key of a mapping may be missing
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                field = _field(annotation, part)
                if field is not None:
                    found.append(field.annotation)
                    nullable = nullable or type(None) in _members(field.annotation)
                    optional = optional or not field.is_required()
        if not found:
            return FieldSpec(known=False)
        candidates, spec = found, FieldSpec(True, nullable, optional)
    return spec


def _parts(path: str) -> list[str]:
    """The segments of a JSON pointer; none for the root."""
    return pointer_parts(path) if path else []


def _members(annotation: Any) -> list[Any]:
    """A type's alternatives: the members of a union, the type inside Annotated."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def _concrete(annotations: list[Any]) -> list[Any]:
    """Every alternative of the annotations but None."""
    return [m for a in annotations for m in _members(a) if m is not type(None)]


def _field(model: Any, key: str) -> Any:
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def read_fields(transform: Transform, webhook: Webhook, checks: Checks,
                baseline: Result) -> list[FieldRead]:
    """The fields the transform reads on this webhook, in the order it first reads them, each
    with the model's word on it and, when the model lets it be null or absent, how the
    transform fares then. baseline is the transform's ordinary result on the webhook."""
    reads = transform.run(webhook, track_reads=True).reads or ()
    quiet = dataclasses.replace(checks, dodo_check=False)
    before = {f.code for f in baseline.findings if f.severity is Severity.ERROR}
    found = []
    for path in _leaves_and_loose(webhook.event_type, reads):
        spec = field_spec(webhook.event_type, path)
        breaks: list[Break] = []
        if spec.loose:
            for when in spec.variants:
                variant = _variant(webhook, path, when)
                if variant is None:
                    continue
                result = evaluate(transform, variant, quiet, inputs=[])
                new = [f for f in result.findings
                       if f.severity is Severity.ERROR and f.code not in before]
                if new:
                    breaks.append(Break(when, new[0].code, new[0].message))
        found.append(FieldRead(path, spec, tuple(breaks)))
    return found


def _leaves_and_loose(event_type: str, reads: tuple[str, ...]) -> list[str]:
    """The reads worth listing: the deepest ones, and any that may be null or absent (the
    payload root, required objects read on the way to a field, and the fields inside one the
    model lacks are left out)."""
    kept = []
    for path in reads:
        if not path or not field_spec(event_type, path.rpartition("/")[0]).known:
            continue
        deeper = any(other.startswith(path + "/") for other in reads)
        if not deeper or field_spec(event_type, path).loose:
            kept.append(path)
    return kept


def _variant(webhook: Webhook, path: str, when: str) -> Webhook | None:
    """The webhook with the field at path set to null or removed (every item, for `*`);
    None when the sample has no such field to change."""
    payload = copy.deepcopy(webhook.payload)
    if not _change(payload, _parts(path), when):
        return None
    body = json.dumps(payload, ensure_ascii=False)
    return Webhook(payload=payload, body=body, source=webhook.source, name=webhook.name,
                   headers=webhook.headers)


def _change(node: Any, parts: list[str], when: str) -> bool:
    """Set the field at parts to null, or remove it; whether there was one to change."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head != "*":
            return False
        if rest:
            return any([_change(item, rest, when) for item in node])  # every item
        if when == NULL and node:
            node[:] = [None] * len(node)
            return True
        return False
    if not isinstance(node, dict):
        return False
    if rest:
        return head in node and _change(node[head], rest, when)
    if when == ABSENT:
        if head not in node:
            return False
        del node[head]
    else:
        node[head] = None
    return True
