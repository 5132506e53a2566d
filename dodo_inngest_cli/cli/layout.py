"""Tables that never cut an identifier: a Rich table when it fits the terminal (prose columns
wrap; decoration columns are dropped first), else a stacked layout (one block per row, a line
per field) that only the terminal itself may wrap."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .output import text

PROSE_MIN = 16
"""The narrowest a prose column may become before the stacked layout is used instead."""
GAP = 3
"""What Rich puts between two columns of a table without edges (" │ ")."""


@dataclasses.dataclass(frozen=True)
class Column:
    """A column: its header, and whether it holds identifiers (never cut) or prose (wraps)."""

    header: str
    prose: bool = False
    justify: str = "left"
    optional: bool = False
    """Decoration (a duration, a count): dropped before the layout changes."""

    def __post_init__(self) -> None:
        # A header can come from outside (a transform's file name): escaped as any value is,
        # before it is measured.
        object.__setattr__(self, "header", text(self.header).plain)


def fits(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> bool:
    """Whether a table of these rows fits the console with no identifier cut."""
    width = 0
    for index, column in enumerate(columns):
        natural = max([len(column.header), *(row[index].cell_len for row in rows)])
        if column.prose:  # it wraps at spaces: no narrower than its longest word
            word = max((len(w) for row in rows for w in row[index].plain.split()), default=0)
            width += min(natural, max(PROSE_MIN, word))
        else:
            width += natural
    return width + GAP * (len(columns) - 1) <= console.width


def table(console: Console, columns: Sequence[Column],
          rows: Sequence[Sequence[Text]]) -> RenderableType:
    """A table of rows if it fits the console (without its optional columns if need be), else
    the same rows stacked."""
    if not fits(console, columns, rows):
        kept = [i for i, c in enumerate(columns) if not c.optional]
        if len(kept) < len(columns):
            return table(console, [columns[i] for i in kept],
                         [[row[i] for i in kept] for row in rows])
        return stacked(columns, rows)
    grid = Table(show_edge=False, header_style="bold", pad_edge=False, expand=False)
    for column in columns:
        grid.add_column(Text(column.header), justify=column.justify,  # type: ignore[arg-type]
                        no_wrap=not column.prose, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    return grid


def stacked(columns: Sequence[Column], rows: Sequence[Sequence[Text]]) -> RenderableType:
    """Each row as a block: its first cell, then `Header: value` for the others."""
    label = max(len(c.header) for c in columns[1:]) if len(columns) > 1 else 0
    lines: list[Text] = []
    for row in rows:
        lines.append(row[0].copy())
        for column, cell in zip(columns[1:], row[1:], strict=True):
            if cell.plain:
                line = Text(f"  {column.header.ljust(label)}  ", style="dim")
                line.append_text(cell)
                lines.append(line)
    return Group(*lines)


def print_rows(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Text]], *,
               title: str = "") -> None:
    """Print rows as a table or stacked; stacked lines are never wrapped by Rich."""
    if title:  # a title is an identifier too (a transform's path): never wrapped by the table
        console.print(text(title, style="bold"), soft_wrap=True)
    rendered = table(console, columns, rows)
    console.print(rendered, soft_wrap=not isinstance(rendered, Table))
