"""Keeping secrets out of output: Inngest event keys live in URL paths (`/e/<key>`)."""

from __future__ import annotations

import re

# A key is anything after /e/ up to the next separator, except placeholders (<key>, $KEY,
# {key}) and keys already masked (****).
_EVENT_KEY = re.compile(r"(/e/)(?![<${*])([^/?#\s\"'<>]+)")


def mask_key(key: str) -> str:
    """A key with all but its last four characters hidden (all of it when short)."""
    return "****" + key[-4:] if len(key) > 8 else "****"


def mask_url(text: str) -> str:
    """Text with every `/e/<key>` event key masked: `/e/****abcd`."""
    return _EVENT_KEY.sub(lambda m: m.group(1) + mask_key(m.group(2)), text)
