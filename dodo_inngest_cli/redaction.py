"""Keeping secrets out of every output: the known secret values, masked where text is written.

Secrets are registered when they are read (an event key from a flag, the environment or a URL;
a URL's password; a webhook signing secret) and every writer (the terminal streams, report
files, snapshots, the replay state file) passes its text through `redact`. Masking works on the
values themselves, in the forms they take in text (as is, percent-encoded in a URL, escaped in
JSON), so it does not depend on where they appear or what they look like.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, unquote, urlsplit

MASK = "****"
MIN_ANYWHERE = 4
"""Values shorter than this are masked only where they stand as an event key (`/e/<key>`):
masking every "k" in the output would destroy it."""
_USERINFO = re.compile(r"//[^/@:]*:([^/@]*)@")
_TAIL = re.compile(r"[A-Za-z0-9_-]{4}")


def mask_key(key: str) -> str:
    """How a secret is shown: its last four characters after ****, or **** alone when short or
    when those characters are not plain."""
    tail = key[-4:]
    return MASK + tail if len(key) > 8 and _TAIL.fullmatch(tail) else MASK


class Redactor:
    """The secret values of one run, and the masking of text against them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: dict[str, str] = {}
        """Every written form of every secret → what it is replaced with."""
        self._short: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def add(self, secret: str, *, tail: bool = True) -> None:
        """Mask this value from now on, in every form it takes in text; tail False hides it
        whole (a password), True keeps its last characters to tell keys apart."""
        if not secret or secret.startswith(MASK):
            return
        mask = mask_key(secret) if tail else MASK
        forms = {secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1],
                 json.dumps(secret, ensure_ascii=False)[1:-1]}
        with self._lock:
            for form in forms:
                if len(secret) >= MIN_ANYWHERE:
                    self._forms[form] = mask
                else:
                    self._short[form] = mask
            self._pattern = None

    def add_url(self, url: str) -> None:
        """Register the secrets a URL carries: the event key of `/e/<key>`, and a password."""
        try:
            parts = urlsplit(url)
            password, path = parts.password, parts.path
        except ValueError:  # a malformed URL: find its parts by hand, to mask them in the error
            found = _USERINFO.search(url)
            password, path = (found.group(1) if found else None), url
        if password:
            self.add(unquote(password), tail=False)
        _, sep, rest = path.partition("/e/")
        key = re.split(r"[/?#]", rest)[0] if sep else ""
        if key:
            self.add(unquote(key))
            self.add(key)  # as written: percent-encoding can be spelled many ways

    def __call__(self, text: str) -> str:
        """The text with every registered secret masked."""
        pattern = self._compiled()
        return text if pattern is None else pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        short = match.groupdict().get("short")
        if short is not None:
            return match.group("prefix") + self._short[short]
        return self._forms[match.group(0)]

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and (self._forms or self._short):
                alternatives = []
                if self._short:
                    shorts = "|".join(re.escape(f) for f in sorted(self._short, key=len,
                                                                   reverse=True))
                    alternatives.append(rf"(?P<prefix>/e/)(?P<short>{shorts})(?![^/?#\s\"'<>])")
                if self._forms:
                    alternatives.append("|".join(
                        re.escape(f) for f in sorted(self._forms, key=len, reverse=True)))
                self._pattern = re.compile("|".join(alternatives))
            return self._pattern


_current = Redactor()


def current() -> Redactor:
    """The redactor of this run."""
    return _current


def reset() -> Redactor:
    """Start a new run with no secrets registered (the command line does this per command)."""
    global _current
    _current = Redactor()
    return _current


def add_secret(secret: str) -> None:
    """Mask this value in every output of this run."""
    _current.add(secret)


def add_url_secrets(url: str) -> None:
    """Mask the event key and password a URL carries in every output of this run."""
    _current.add_url(url)


def redact(text: str) -> str:
    """Text with every secret of this run masked."""
    return _current(text)
