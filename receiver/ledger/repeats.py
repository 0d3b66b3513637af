"""Mark a repeat, never drop it: ``repeat_of`` names the event another capture sent with the same content.

An event is a repeat when another capture, received at most
``DUMPER_REPEAT_WINDOW`` before its own (and not after it), holds an event
with the same content (``receiver.capture.eventid.content_id``: the event as sent, its
source and its panel). ``repeat_of`` is then the id of that capture's first
such event, the capture being the latest received of those that qualify. The
event is written all the same: a customer who opens a mail twice makes two
identical payloads, and both are real.

The table ``contents`` of the ledger's SQLite file holds one row per content
and capture (the first event of that content in the capture). Like the rest of
the ledger it is derived from the events files: rebuilt from their lines
(``row_of``), forgotten with the days that leave the dedup window. It is
written in the ledger's transaction, under the day file's lock, so two workers
agree on which event came first. A capture processed before an
earlier-received one with the same content is not marked; neither is dropped.

Failure policy: SQLite errors propagate (the job is retried). An event whose
``received_at`` does not parse is never marked and never marks another.
"""

import itertools
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from receiver.capture.eventid import content_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (content TEXT, capture TEXT, key TEXT, received REAL, day TEXT,
                                     PRIMARY KEY (content, capture));
CREATE INDEX IF NOT EXISTS contents_by_time ON contents (content, received);
CREATE INDEX IF NOT EXISTS contents_by_day ON contents (day);
"""
Row = tuple[str, str, str, float, str]  # content, capture, key, received, day
IN_CHUNK = 500  # contents per SELECT ... IN (...)


def received_seconds(value: object) -> float | None:
    """Return an ISO 8601 ``received_at`` as Unix seconds (naive is UTC), or None when it does not parse."""
    try:
        when = datetime.fromisoformat(value)  # type: ignore[arg-type]  # anything: TypeError is caught
    except (TypeError, ValueError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def row_of(event: dict[str, Any], day: str) -> Row | None:
    """Return the ``contents`` row of a normalised event (or an events line), or None when it cannot have one."""
    received, capture, key = received_seconds(event.get("received_at")), event.get("capture_id"), event.get("event_id")
    if received is None or capture is None or key is None:
        return None
    return content_id(event.get("source"), event.get("panel"), event.get("raw")), str(capture), str(key), received, day


def remember(connection: sqlite3.Connection, rows: Iterable[Row | None]) -> None:
    """Index ``rows``; a content already indexed for a capture keeps its first event."""
    connection.executemany(
        "INSERT OR IGNORE INTO contents VALUES (?, ?, ?, ?, ?)", [row for row in rows if row is not None]
    )


def latest_earlier(connection: sqlite3.Connection, rows: list[Row], window: float) -> dict[str, str]:
    """Return, per content of ``rows`` (one capture, one received time), the id it repeats, if any.

    That is the event of the latest other capture received within ``window`` before, and not after.
    """
    _content, capture, _key, received, _day = rows[0]
    contents = sorted({row[0] for row in rows})
    found: dict[str, tuple[float, str]] = {}
    for begin in range(0, len(contents), IN_CHUNK):
        chunk = contents[begin : begin + IN_CHUNK]
        query = (
            "SELECT content, key, received FROM contents WHERE capture != ? AND received <= ? AND received >= ?"
            f" AND content IN ({','.join('?' * len(chunk))})"
        )
        for content, key, when in connection.execute(query, (capture, received, received - window, *chunk)):
            if content not in found or when > found[content][0]:
                found[content] = (when, str(key))
    return {content: key for content, (_when, key) in found.items()}


def mark(connection: sqlite3.Connection, events: list[dict[str, Any]], day: str, window: float) -> None:
    """Set ``repeat_of`` on each event about to be written, and index it, inside the caller's transaction.

    One query and one insert per capture: captures in the order given, so a later one sees an earlier one's.
    """
    rows = [(event, row_of(event, day)) for event in events]
    for _same, group in itertools.groupby(rows, key=lambda pair: pair[1] and (pair[1][1], pair[1][3])):
        members = list(group)
        indexed = [row for _event, row in members if row is not None]
        if not indexed:
            continue
        repeated = latest_earlier(connection, indexed, window)
        for event, row in members:
            event["repeat_of"] = repeated.get(row[0]) if row is not None else None
        remember(connection, indexed)
