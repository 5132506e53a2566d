"""Dodo Payments payloads checked against the official `dodopayments` models.

The SDK is slow to import (about a quarter of a second), so it is imported only when a check
runs. Its verdicts are warnings: real traffic sometimes deviates from the SDK's types, and a
transform must still handle it.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from .jsonio import describe, pointer
from .models import Webhook
from .rules import Finding, finding

MAX_SCHEMA_FINDINGS = 5


@functools.lru_cache(maxsize=1)
def event_models() -> dict[str, Any]:
    """Every Dodo event type the installed SDK knows, mapped to its pydantic model."""
    from dodopayments.types import UnwrapWebhookEvent

    union = typing.get_args(UnwrapWebhookEvent)[0]
    models: dict[str, Any] = {}
    for model in typing.get_args(union):
        (event_type,) = typing.get_args(model.model_fields["type"].annotation)
        models[event_type] = model
    return models


def sdk_version() -> str:
    """The installed `dodopayments` version, for messages."""
    from dodopayments import __version__

    return str(__version__)


def check_webhook(webhook: Webhook) -> list[Finding]:
    """`dodo-unknown-type` or `dodo-schema` warnings for one Dodo body (none when it is valid)."""
    from pydantic import ValidationError

    models = event_models()
    event_type = webhook.event_type
    if event_type not in models:
        given = webhook.payload.get("type", None) if isinstance(webhook.payload, dict) \
            else None
        shown = f"'{event_type}'" if event_type else "missing" if given is None \
            else f"{describe(given)}, not a string"
        return [finding(
            "dodo-unknown-type",
            f"the payload's event type is {shown}; dodopayments {sdk_version()} knows "
            f"{len(models)} types",
            path="/type", hint="check the body's 'type'; 'dodo-inngest samples list' shows them")]
    try:
        models[event_type].model_validate_json(webhook.body, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        found = [finding(
            "dodo-schema",
            f"the payload at {pointer(error['loc']) or '/'}: {_message(error)} "
            f"(dodopayments {sdk_version()}, {event_type})",
            path=pointer(error["loc"]),
            hint="real traffic can deviate from the SDK's types; make the transform handle it")
            for error in errors[:MAX_SCHEMA_FINDINGS]]
        if len(errors) > MAX_SCHEMA_FINDINGS:
            found.append(finding(
                "dodo-schema", f"the payload has {len(errors) - MAX_SCHEMA_FINDINGS} more "
                "differences from the official model", path=""))
        return found
    return []


LISTED = 5
"""How many allowed values a message names before counting the rest."""


def _message(error: Any) -> str:
    """pydantic's message, with a long list of allowed values (every currency) shortened."""
    expected = (error.get("ctx") or {}).get("expected")
    if error.get("type") in ("literal_error", "enum") and isinstance(expected, str):
        values = [v.strip() for v in expected.replace(" or ", ", ").split(", ") if v.strip()]
        if len(values) > LISTED:
            shown = ", ".join(values[:LISTED])
            return (f"Input should be one of {len(values)} values ({shown}, …), not "
                    f"{error.get('input')!r}")
    return str(error["msg"])


