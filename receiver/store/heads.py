"""Stream the lines of the captures files, with the id, time and source at the head of each (``line_head``).

``audit`` reads a day of captures this way.

Failure policy: a line that is not a capture gives None (the caller counts
it); a file that cannot be opened raises ``DataFileError`` (from ``files``),
and an error while reading one (``OSError``, a broken gzip) propagates.
"""

from collections.abc import Iterator

from receiver.capture.linehead import line_head
from receiver.core.layout import CAPTURES
from receiver.core.lines import complete_lines
from receiver.store.files import day_files, open_binary


def head(line: bytes) -> tuple[str, str, str] | None:
    """Return ``(id, received_at, source)`` of a capture line, or None when the line is not a capture."""
    return line_head(line if line.endswith(b"\n") else line + b"\n")


def captures(data_dir: str, first_day: str | None, last_day: str | None) -> Iterator[tuple[str, int | None, bytes]]:
    """Yield ``(day, offset, line)`` of every complete captures line of the days (offset None in a .gz)."""
    for day_file in day_files(data_dir, CAPTURES, first_day, last_day):
        gzipped = day_file.path.endswith(".gz")
        with open_binary(day_file.path) as handle:
            for offset, line in complete_lines(handle, 0):
                yield day_file.day, None if gzipped else offset, line
