"""The bundled samples: valid Dodo bodies; published examples fail, corrected ones pass."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from dodopayments.types import UnwrapWebhookEvent

from dodo_inngest_cli.models import Status
from dodo_inngest_cli.pipeline import Checks, evaluate, matches
from dodo_inngest_cli.sandbox import Transform

from conftest import TRANSFORMS, WEBHOOKS, sample

SAMPLES = sorted(WEBHOOKS.glob("*.json"))
HANDLES = {"payment": "payment.*", "subscription": "subscription.*", "dispute": "dispute.*"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_validates_against_the_official_dodo_models(path: Path) -> None:
    event = pydantic.TypeAdapter(UnwrapWebhookEvent).validate_json(path.read_text(), strict=True)
    assert event.type == path.stem


def pairs() -> list[tuple[str, str]]:
    return [(family, path.stem) for family, glob in HANDLES.items() for path in SAMPLES
            if matches(path.stem, [glob])]


@pytest.mark.parametrize(("family", "event_type"), pairs(), ids=lambda v: v)
def test_published_example_fails_with_ts_in_seconds(family: str, event_type: str) -> None:
    result = evaluate(Transform.from_file(TRANSFORMS / "dodo-docs" / f"{family}.js"),
                      sample(event_type), Checks())
    assert result.status is Status.FAILED
    assert [f.path for f in result.findings if f.code == "ts-in-seconds"] == ["/ts"]


@pytest.mark.parametrize(("family", "event_type"), pairs(), ids=lambda v: v)
def test_corrected_transform_passes_without_warnings(family: str, event_type: str) -> None:
    result = evaluate(Transform.from_file(TRANSFORMS / f"{family}.js"), sample(event_type),
                      Checks(strict=True))
    assert (result.status, result.findings) == (Status.PASSED, [])
    assert result.request is not None
    assert result.request.payload["name"] == f"dodo/{event_type}"


@pytest.mark.parametrize("family", sorted(HANDLES))
def test_corrected_transform_cancels_what_it_does_not_handle(family: str) -> None:
    transform = Transform.from_file(TRANSFORMS / f"{family}.js")
    for path in SAMPLES:
        if not matches(path.stem, [HANDLES[family]]):
            result = evaluate(transform, sample(path.stem), Checks(strict=True))
            assert result.status is Status.CANCELLED
