"""Stream the lines of the captures files, and read the id, time and source at the head of each without parsing it all.

The receiver writes ``id``, ``received_at`` and ``source`` first in every
captures line, so a regular expression reads them; any other line falls back
to a whole JSON parse. ``audit`` reads a day of captures this way.

Failure policy: a line that is not a capture gives None (the caller counts
it); a file that cannot be opened raises ``DataFileError`` (from ``files``),
and an error while reading one (``OSError``, a broken gzip) propagates.
"""

import json
import re
from collections.abc import Iterator

from receiver.capture.record import parse_line
from receiver.core.layout import CAPTURES
from receiver.core.lines import complete_lines
from receiver.store.files import day_files, open_binary

DEFAULT_SOURCE = "default"
# The receiver writes these three first; anything else falls back to a whole JSON parse of the line.
HEAD = re.compile(
    rb'\{"id":"([0-9A-HJKMNP-TV-Z]{26})","received_at":"([^"\\]{1,40})","source":("(?:[^"\\]|\\.)*"|null)'
)


def head(line: bytes) -> tuple[str, str, str] | None:
    """Return ``(id, received_at, source)`` of a capture line, or None when the line is not a capture."""
    match = HEAD.match(line)
    if match:
        source = json.loads(match.group(3)) or DEFAULT_SOURCE
        return match.group(1).decode(), match.group(2).decode(), str(source)
    record = parse_line(line)
    if record is None or not isinstance(record.get("received_at"), str):
        return None
    return record["id"], record["received_at"], str(record.get("source") or DEFAULT_SOURCE)


def captures(data_dir: str, first_day: str | None, last_day: str | None) -> Iterator[tuple[str, int | None, bytes]]:
    """Yield ``(day, offset, line)`` of every complete captures line of the days (offset None in a .gz)."""
    for day_file in day_files(data_dir, CAPTURES, first_day, last_day):
        gzipped = day_file.path.endswith(".gz")
        with open_binary(day_file.path) as handle:
            for offset, line in complete_lines(handle, 0):
                yield day_file.day, None if gzipped else offset, line
