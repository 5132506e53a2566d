"""A finding about the event sent points at the transform line that names its key."""

from __future__ import annotations

import pytest

from dodo_inngest_cli.locate import locate, with_lines
from dodo_inngest_cli.rules import finding

from conftest import TRANSFORMS

DOCS = (TRANSFORMS / "dodo-docs" / "payment.js").read_text(encoding="utf-8")


@pytest.mark.parametrize(("code", "pointer", "line"), [
    (DOCS, "/ts", 19),
    (DOCS, "/user", 16),
    (DOCS, "/name", 7),  # not customer_name:, not p.customer.name
    (DOCS, "/data/amount", 10),
    (DOCS, "/id", None),  # the event lacks it: no line names it
    ("w.payload = {\n  'ts': 1,\n};", "/0/ts", 2),  # quoted key; an array's index skipped
    ("const e = {};\ne.ts = now() / 1000;\nif (e.ts == 0) {}", "/ts", 2),  # = but not ==
    ("x = {\n  ts: a,\n};\ny = {\n  ts: b,\n};", "/ts", None),  # two: no guess
    ("// ts: in seconds, as Dodo's docs do\nx = {\n  ts: a,\n};", "/ts", 3),  # comments skipped
    ("u = 'https://x/ts: no';\nx = {ts: 1};", "/ts", None),  # inside a string: both count
    ("x = {\n  data: {\n    amount: a,\n    amount_due: b,\n  },\n};", "/data/amount", 3),
    ("x = {\n  data: {amount: a},\n};\ny = {data: 1};", "/data/amount", 2),
    ("x = {\n  data: f(),\n};", "/data/nope", 2),  # the deepest key named: its parent
    ("x = {\n  [k]: 1,\n};", "/a.b(c", None),  # a key that is not a name: no error, no line
], ids=["ts", "user", "name", "nested", "missing", "quoted-in-array", "assignment", "ambiguous",
        "comment", "string", "prefix-key", "parent-ambiguous-child-not", "parent", "odd-key"])
def test_locate(code: str, pointer: str, line: int | None) -> None:
    assert locate(code, pointer) == line


def test_only_findings_about_the_event_get_a_line() -> None:
    found = with_lines([
        finding("ts-in-seconds", "ts in seconds", path="/ts"),
        finding("js-exception", "boom", line=4),  # keeps its own
        finding("dodo-schema", "the payload at /ts", path="/ts"),  # about the input
        finding("snapshot-mismatch", "differs", path="/ts"),  # a snapshot's path
    ], DOCS)
    assert [item.line for item in found] == [19, 4, None, None]
