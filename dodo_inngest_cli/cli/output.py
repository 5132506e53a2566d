"""The output policy, in one place: where a run's text goes and what it may contain.

Made per run (never at import). People-facing text goes through Rich consoles with markup off
(text from outside is never read as markup) and every control character from data shown
escaped; data (JSON, requests, JUnit, annotations, `short` lines) is written directly, never
cropped or wrapped. Every byte that leaves the process passes through the run's redactor, so a
secret is masked whatever route it took to the output. `NO_COLOR`, or a stream that is not a
terminal, gets plain text with no escape sequences at all.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from .. import jsonio
from ..errors import InputError
from ..redaction import redact
from ..textsafe import printable


def text(value: object, style: str = "") -> Text:
    """Data shown to people, on one line: secrets masked, unprintable characters and line
    breaks escaped (a value cannot start a line of its own, where a CI runner would read
    `::error::` as a command), never markup."""
    one_line = redact(str(value)).replace("\r", "\\r").replace("\n", "\\n")
    return Text(printable(one_line), style=style)


def animated(console: Console) -> bool:
    """Whether live tables and progress bars may redraw: a terminal, colour allowed (NO_COLOR
    asks for no escape sequences at all, cursor movement included)."""
    return console.is_terminal and console.color_system is not None


class _Redacting:
    """A text stream that masks secrets and escapes what its encoding cannot write. When its
    reader goes away (`| head -1`), later output is dropped and the run goes on to its own
    exit code: a closed pipe is not a failed check."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.gone = False

    def write(self, value: str) -> int:
        """Write the value, secrets masked."""
        if self.gone:
            return len(value)
        masked = redact(value)
        try:
            try:
                return self.stream.write(masked)
            except UnicodeEncodeError:
                encoding = getattr(self.stream, "encoding", None) or "utf-8"
                safe = masked.encode(encoding, "backslashreplace").decode(encoding)
                return self.stream.write(safe)
        except BrokenPipeError:
            self._reader_gone()
            return len(value)

    def flush(self) -> None:
        """Flush the stream."""
        if self.gone:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        self.gone = True
        # What is still buffered goes nowhere, so the interpreter's own flush at exit cannot
        # fail either.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def fileno(self) -> int:
        """The stream's file descriptor."""
        return self.stream.fileno()

    @property
    def encoding(self) -> str:
        """The stream's encoding."""
        return getattr(self.stream, "encoding", None) or "utf-8"


class _Console(Console):
    """A Rich console that shows control characters in what it renders escaped: text from
    outside can neither move the cursor nor retitle the window, whatever path it took."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        rendered = super()._render_buffer(
            segment if segment.control else Segment(printable(segment.text), segment.style)
            for segment in buffer)
        if self.is_terminal:
            return rendered
        # A file or a pipe gets no padding after the last character of a line.
        return "\n".join(line.rstrip(" ") for line in rendered.split("\n"))


def _console(stream: _Redacting, *, color: bool) -> Console:
    return _Console(file=cast(IO[str], stream), markup=False, highlight=False, emoji=False,
                    soft_wrap=False, color_system="auto" if color else None)


def color_wanted(environ: Mapping[str, str]) -> bool:
    """Colour unless NO_COLOR is set (to anything but "") or TERM is dumb."""
    return not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


class Output:
    """The consoles and the data writer of one run."""

    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.color = color_wanted(environ)
        self.stdout = _Redacting(sys.stdout)
        self.stderr = _Redacting(sys.stderr)
        self.out = _console(self.stdout, color=self.color)
        """People-facing text on stdout: tables, summaries."""
        self.err = _console(self.stderr, color=self.color)
        """People-facing text on stderr: findings, progress, errors, hints."""

    def data(self, value: str) -> None:
        """Data on stdout, exactly as given (secrets masked): never cropped or wrapped."""
        self.stdout.write(value)
        self.stdout.flush()

    def json(self, document: Any) -> None:
        """A JSON document on stdout: coloured on a terminal, exact bytes otherwise."""
        self.json_text(jsonio.dumps(document, indent=2) + "\n")

    def report(self, document: dict[str, Any]) -> None:
        """A report document on stdout, an item a line (see jsonio.dumps_report)."""
        self.json_text(jsonio.dumps_report(document))

    def json_text(self, value: str) -> None:
        """JSON text on stdout, coloured only on a colour terminal and never wrapped."""
        if self.color and self.out.is_terminal:
            from rich.highlighter import JSONHighlighter

            self.out.print(JSONHighlighter()(value), soft_wrap=True, end="")
        else:
            self.data(value)

    def error(self, message: str, hint: str | None = None) -> None:
        """An error as one line on stderr, and its hint under it."""
        line = Text("error: ", style="bold red")
        line.append_text(text(message))
        self.err.print(line, soft_wrap=True)
        if hint:
            self.err.print(text(f"hint: {hint}", style="dim"), soft_wrap=True)

    def warning(self, message: str) -> None:
        """A warning as one line on stderr."""
        self.err.print(text(f"warning: {message}", style="yellow"), soft_wrap=True)


@contextlib.contextmanager
def report_file(path: Path) -> Iterator[_Redacting]:
    """A report file to write, secrets masked; an unwritable place is an InputError."""
    try:
        handle = path.open("w", encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report: {exc.strerror}",
                         hint="check the folder exists and is writable") from None
    with handle:
        yield _Redacting(handle)


def file_console(stream: _Redacting) -> Console:
    """A console writing plain text to a file (a text report), at a fixed width."""
    return _Console(file=cast(IO[str], stream), width=100, markup=False, highlight=False,
                    emoji=False, color_system=None)
