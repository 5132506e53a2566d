"""Text that is safe to show or to embed in a report, whatever a transform or a server sent."""

from __future__ import annotations

import re

# What must not reach a terminal raw: C0 controls but newline and tab, DEL, C1 controls,
# lone surrogates (no encoding can write them) and the bidirectional overrides.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 cannot hold at all, the discouraged C1 controls and DEL, and the bidirectional
# overrides (valid XML, but they reorder what a terminal or a browser shows).
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Text with every unprintable character shown as its escape (`\\x1b`, `\\ud83d`)."""
    return _UNPRINTABLE.sub(_escape, text)


def xml_safe(text: str) -> str:
    """Text an XML 1.0 document can hold: the characters it cannot are shown escaped."""
    return _NOT_XML.sub(_escape, text)
