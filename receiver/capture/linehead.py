"""Read the id, receive time and source at the head of a captures line, without parsing the whole line.

The receiver writes ``id``, ``received_at`` and ``source`` first in every
captures line, so a regular expression reads them in a microsecond: the
forwarder hands lines to the queue as they are, and ``audit`` reads a day of
captures this way. A line that does not start so, or does not end as a JSON
object does, falls back to a whole JSON parse.

Pure functions; a line that is not a capture gives None, nothing raises.
"""

import json
import re

from receiver.capture.record import DEFAULT_SOURCE, parse_line

HEAD = re.compile(
    rb'\{"id":"([0-9A-HJKMNP-TV-Z]{26})","received_at":"([^"\\]{1,40})","source":("(?:[^"\\]|\\.)*"|null)'
)
END = b"}\n"
LINE_START = '{"id":"'  # how every captures line starts: its id


def item_id(item: object) -> str | None:
    """Return the capture id of what a job of captures carries: a captures line (text) or a record; else None."""
    if isinstance(item, dict):
        found = item.get("id")
        return found if isinstance(found, str) else None
    if isinstance(item, str) and item.startswith(LINE_START):
        end = item.find('"', len(LINE_START))
        return item[len(LINE_START) : end] if end > 0 else None
    return None


def source_text(raw: bytes) -> str:
    """Return the source a JSON string (or ``null``) at a line's head names."""
    if raw == b"null":
        return DEFAULT_SOURCE
    try:
        text = raw[1:-1].decode() if b"\\" not in raw else json.loads(raw)
    except ValueError:  # not UTF-8, or an escape JSON does not know: the regex let through what JSON refuses
        return DEFAULT_SOURCE
    return str(text or DEFAULT_SOURCE)


def line_head(line: bytes) -> tuple[str, str, str] | None:
    """Return ``(id, received_at, source)`` of a whole captures line, or None when the line is not a capture."""
    match = HEAD.match(line)
    if match and line.endswith(END):
        return match.group(1).decode(), match.group(2).decode(), source_text(match.group(3))
    record = parse_line(line)
    if record is None or not isinstance(record.get("received_at"), str):
        return None
    return record["id"], record["received_at"], str(record.get("source") or DEFAULT_SOURCE)
