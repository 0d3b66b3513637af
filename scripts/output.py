"""Print for people or for ``jq``: fixed-width tables, colour only where it belongs, JSON lines.

Colour is used only when stdout is a terminal and ``NO_COLOR`` is unset or
empty (https://no-color.org). Tables have fixed column widths so rows can be
printed as they stream in; a long cell is cut with an ellipsis.
"""
import json
import os
import sys

import click

ELLIPSIS = "…"
NO_COLOR_ENVVAR = "NO_COLOR"
GAP = "  "


def colour_enabled(stream=None):
    """Say whether ``stream`` (default stdout) should get ANSI colours."""
    stream = stream or sys.stdout
    if os.environ.get(NO_COLOR_ENVVAR, ""):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text, colour=None, bold=False, enabled=True):
    """Return ``text`` styled with click when ``enabled``, else unchanged."""
    if not enabled or (colour is None and not bold):
        return text
    return click.style(text, fg=colour, bold=bold)


def json_line(value):
    """Print ``value`` as one compact JSON line (UTF-8, exact big integers)."""
    click.echo(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str), color=False)


def pretty_json(value):
    """Return ``value`` as indented JSON text."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def fit(text, width):
    """Return ``text`` padded or cut (with an ellipsis) to exactly ``width`` characters."""
    text = "" if text is None else str(text)
    if len(text) > width:
        return text[: max(width - 1, 0)] + ELLIPSIS
    return text.ljust(width)


class Table:
    """Print rows under a header with fixed widths; the last column is never cut."""

    def __init__(self, columns, colour=None):
        self.columns = columns  # [(title, width), ...]
        self.colour = colour_enabled() if colour is None else colour

    def line(self, cells, colours=()):
        """Return one formatted row; ``colours`` maps column index to a colour name."""
        colours = dict(colours)
        parts = []
        last = len(self.columns) - 1
        for index, ((_, width), cell) in enumerate(zip(self.columns, cells)):
            text = ("" if cell is None else str(cell)) if index == last else fit(cell, width)
            parts.append(paint(text, colours.get(index), enabled=self.colour))
        return GAP.join(parts).rstrip()

    def header(self):
        """Print the header row."""
        titles = [title for title, _ in self.columns]
        click.echo(paint(self.line(titles), bold=True, enabled=self.colour), color=self.colour)

    def row(self, cells, colours=()):
        """Print one row."""
        click.echo(self.line(cells, colours), color=self.colour)


def human_size(size):
    """Return a byte count as a short human figure: 812 B, 12.3 KiB, 4.0 MiB."""
    size = float(size or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def short_time(stamp):
    """Return ``2026-11-29T08:30:01.123Z`` as ``2026-11-29 08:30:01``."""
    return (stamp or "")[:19].replace("T", " ")
