"""Rendering of the coverage map: the table of types × transforms, the field reads, the
unhandled types."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .layout import Column, print_rows
from .output import Output, text

if TYPE_CHECKING:
    from ..coverage import Cell, CoverageMap
    from ..fields import FieldRead


def report_unhandled(output: Output, found: CoverageMap, *, fail_on_unhandled: bool) -> bool:
    """Warn about ignore-events globs that match nothing; with fail_on_unhandled, say which
    types are neither sent nor declared ignored. Whether that fails the run."""
    from ..dodo import event_models

    for glob in found.unmatched_ignores(event_models()):
        output.warning(f"ignore-events '{glob}' matches no event type the SDK knows")
    if not (fail_on_unhandled and found.unhandled):
        return False
    count = len(found.unhandled)
    output.error(f"{count} event type{'s are' if count != 1 else ' is'} neither sent by a "
                 f"transform nor declared ignored: {', '.join(found.unhandled)}",
                 hint="shape them in a transform, or list them in ignore-events in the config")
    return True


CELL_STYLE = {"sent": "green", "cancelled": "cyan", "passthrough": "bold red",
              "error": "bold magenta", "filtered": "dim", "no-sample": "yellow"}


def print_coverage(output: Output, found: CoverageMap, *, fields: bool) -> None:
    """The map as a table (stacked when it does not fit), the types no transform sends, and
    with fields, what each transform reads per type."""
    console = output.out
    names = short_names(found.transforms)
    rows = [[_type_text(row.event_type, row.ignored), *(_cell_text(c) for c in row.cells),
             _sent_as(row.event_type, row.cells, row.unhandled, row.ignored)]
            for row in found.rows]
    transforms = f"{len(found.transforms)} transform{'s' if len(found.transforms) != 1 else ''}"
    types = "event type" if len(rows) == 1 else "event types"
    console.print(text(f"{len(rows)} Dodo {types} (dodopayments {found.sdk_version}) × "
                       f"{transforms}", style="bold"), soft_wrap=True)
    print_rows(console, [Column("Event type"), *(Column(name) for name in names),
                         Column("Sent as")], rows)
    ignored = [r.event_type for r in found.rows if r.ignored and not r.sent]
    for label, listed, style in (
            ("Not sent and not declared ignored", found.unhandled, "yellow"),
            ("Declared ignored (ignore-events)", ignored, "dim"),
            ("No sample to run (give one with -s)", found.no_sample, "yellow")):
        if listed:
            console.print()
            console.print(text(f"{label} ({len(listed)}): {', '.join(listed)}", style=style))
    print_errors(console, found, names)
    if fields:
        print_fields(console, found, names)
    console.print()
    console.print(coverage_line(found), soft_wrap=True)


def print_errors(console: Console, found: CoverageMap, names: Sequence[str]) -> None:
    """Why each error cell is one, once per transform and reason, naming its types."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    for row in found.rows:
        for name, cell in zip(names, row.cells, strict=True):
            if cell.reason:
                by_reason.setdefault((name, cell.reason), []).append(row.event_type)
    for (name, reason), types in by_reason.items():
        console.print()
        head = text(f"{name} × {', '.join(types)}: ", style="bold")
        head.append_text(text(reason, style="red"))
        console.print(head)


def coverage_line(found: CoverageMap) -> Text:
    """'48 event types: 23 sent, 7 ignored, 18 unhandled'."""
    sent = sum(row.sent for row in found.rows)
    ignored = sum(row.ignored and not row.sent for row in found.rows)
    types = "event type" if len(found.rows) == 1 else "event types"
    line = text(f"{len(found.rows)} {types}: {sent} sent, {ignored} ignored, ")
    line.append_text(text(f"{len(found.unhandled)} unhandled",
                          style="yellow" if found.unhandled else ""))
    return line


def short_names(paths: Sequence[str]) -> list[str]:
    """Column headers for transforms: the file's stem where it is unique, else the shortest
    end of the path that is (`payment.js`, `dodo-docs/payment.js`)."""
    stems = [Path(path).stem for path in paths]
    names = []
    for path, stem in zip(paths, stems, strict=True):
        if stems.count(stem) == 1:
            names.append(stem)
            continue
        parts = Path(path).parts
        for size in range(1, len(parts) + 1):
            name = "/".join(parts[-size:])
            if sum("/".join(Path(p).parts[-size:]) == name for p in paths) == 1:
                break
        names.append(name)
    return names


def _type_text(event_type: str, ignored: bool) -> Text:
    line = text(event_type)
    if ignored:
        line.append_text(text(" (ignored)", style="dim"))
    return line


def _cell_text(cell: Cell) -> Text:
    word = "no sample" if cell.handling.value == "no-sample" else cell.handling.value
    line = text(word, style=CELL_STYLE[cell.handling.value])
    if cell.handling.value == "sent" and cell.status is not None \
            and cell.status.value == "failed":
        line.append_text(text(" ✗", style="bold red"))
    return line


def _sent_as(event_type: str, cells: Sequence[Cell], unhandled: bool, ignored: bool) -> Text:
    """The event names sent, the row's type written `<type>` (`dodo/<type>`) to stay narrow."""
    names = list(dict.fromkeys(name for cell in cells for name in cell.names))
    if names:
        return text(", ".join(name[:-len(event_type)] + "<type>" if name.endswith(event_type)
                              else name for name in names))
    if unhandled:
        return text("not sent", style="bold yellow")
    return text("ignored" if ignored else "not sent", style="dim")


def print_fields(console: Console, found: CoverageMap, names: Sequence[str]) -> None:
    """Per transform, the payload fields it reads for each type (types it reads alike share a
    block): the model's word on each, and for those that may be null or absent, whether the
    transform survives it."""
    for index, name in enumerate(names):
        blocks: dict[tuple[tuple[str, str, str], ...], list[str]] = {}
        for row in found.rows:
            reads = row.cells[index].fields
            if reads:
                rows = tuple((read.name, read.spec.describe(), _guard(read).plain)
                             for read in reads)
                blocks.setdefault(rows, []).append(row.event_type)
        for rows, types in blocks.items():
            console.print()
            console.print(text(f"{name} × {', '.join(types)}: fields read", style="bold"),
                          soft_wrap=True)
            print_rows(console, [Column("Field"), Column("Model"), Column("Guard", prose=True)],
                       [[text(field), text(model), _guard_style(guard)]
                        for field, model, guard in rows])


def _guard_style(guard: str) -> Text:
    return text(guard, style="green" if guard == "guarded" else "red")


def _guard(read: FieldRead) -> Text:
    if read.guarded is None:
        return text("")
    if read.guarded:
        return text("guarded", style="green")
    first = read.breaks[0]
    whens = " or ".join(b.when for b in read.breaks)
    return text(f"breaks when {whens}: {first.code} ({first.message})", style="red")
