"""Print for people or for ``jq``: fixed-width tables, colour only where it belongs, JSON lines.

Colour is used only when stdout is a terminal and ``NO_COLOR`` is unset or
empty (https://no-color.org). Tables have fixed column widths so rows can be
printed as they stream in; a long cell is cut with an ellipsis. Everything
printed here goes through ``safetext``: a payload can never send a terminal
an escape sequence, forge a table row or hide text behind a bidi override.

Failure policy: ``each_item`` turns the failure to show one item into a
warning on stderr; an ``OSError`` (a closed pipe, a full disk) propagates.
"""

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

import click

from receiver.store.safetext import escape, json_text
from receiver.store.text import describe_error, safe_str

ELLIPSIS = "…"
NO_COLOR_ENVVAR = "NO_COLOR"  # click decides colour by the terminal alone: it does not read NO_COLOR
GAP = "  "
EMPTY: Mapping[int, str] = {}  # no column coloured


def colour_enabled(stream: TextIO | None = None) -> bool:
    """Say whether ``stream`` (default stdout) should get ANSI colours."""
    stream = stream or sys.stdout
    if os.environ.get(NO_COLOR_ENVVAR, ""):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: str | None = None, bold: bool = False, enabled: bool = True) -> str:
    """Return ``text`` styled with click when ``enabled``, else unchanged."""
    if not enabled or (colour is None and not bold):
        return text
    return click.style(text, fg=colour, bold=bold)


def json_line(value: Any) -> None:
    """Print ``value`` as one compact JSON line (UTF-8, exact big integers, unsafe characters escaped)."""
    click.echo(json_text(value), color=False)


def pretty_json(value: Any) -> str:
    """Return ``value`` as indented JSON text, unsafe characters escaped."""
    return json_text(value, indent=2)


def echo_line(text: Any, err: bool = False) -> None:
    """Print ``text`` as exactly one line, every unsafe character (newline and tab too) escaped."""
    click.echo(escape(text), err=err, color=False)


def echo_block(text: Any, err: bool = False) -> None:
    """Print multi-line ``text`` (a body, a traceback) with unsafe characters escaped, keeping lines and tabs."""
    click.echo(escape(text, multiline=True), err=err, color=False)


def warn(text: str) -> None:
    """Print ``warning: text`` as one escaped line on stderr."""
    echo_line(f"warning: {text}", err=True)


@contextlib.contextmanager
def each_item(what: str, action: str = "show") -> Iterator[None]:
    """Turn a failure to ``action`` one item into a warning naming ``what``, so a listing carries on."""
    try:
        yield
    except OSError:
        raise  # a closed pipe or a full disk ends the command, not just this item
    except Exception as exc:  # noqa: BLE001 - a hostile record must not stop the listing
        warn(f"{what}: cannot {action} it ({describe_error(exc)}); skipped")


def fit(text: Any, width: int) -> str:
    """Return ``text`` escaped, then padded or cut (with an ellipsis) to exactly ``width`` characters."""
    text = "" if text is None else escape(text)
    if len(text) > width:
        return text[: max(width - 1, 0)] + ELLIPSIS
    return text.ljust(width)


class Table:
    """Print rows under a header with fixed widths; the last column is never cut."""

    def __init__(self, columns: list[tuple[str, int]], colour: bool | None = None) -> None:
        self.columns = columns  # [(title, width), ...]
        self.colour = colour_enabled() if colour is None else colour

    def line(self, cells: Iterable[Any], colours: Mapping[int, str] = EMPTY) -> str:
        """Return one formatted row; ``colours`` maps column index to a colour name."""
        colours = dict(colours)
        parts = []
        last = len(self.columns) - 1
        for index, ((_, width), cell) in enumerate(zip(self.columns, cells)):
            text = ("" if cell is None else escape(cell)) if index == last else fit(cell, width)
            parts.append(paint(text, colours.get(index), enabled=self.colour))
        return GAP.join(parts).rstrip()

    def header(self) -> None:
        """Print the header row."""
        titles = [title for title, _ in self.columns]
        click.echo(paint(self.line(titles), bold=True, enabled=self.colour), color=self.colour)

    def row(self, cells: Iterable[Any], colours: Mapping[int, str] = EMPTY) -> None:
        """Print one row."""
        click.echo(self.line(cells, colours), color=self.colour)


def short_time(stamp: Any) -> str:
    """Return ``2026-11-29T08:30:01.123Z`` as ``2026-11-29 08:30:01``."""
    return safe_str(stamp or "")[:19].replace("T", " ")
