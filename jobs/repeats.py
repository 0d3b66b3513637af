"""Mark a repeat, never drop it: ``repeat_of`` names the event another capture sent with the same content.

An event is a repeat when another capture, received at most
``DUMPER_REPEAT_WINDOW`` before its own (and not after it), holds an event
with the same content (``jobs.eventid.content_id``: the event as sent, its
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

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .eventid import content_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (content TEXT, capture TEXT, key TEXT, received REAL, day TEXT,
                                     PRIMARY KEY (content, capture));
CREATE INDEX IF NOT EXISTS contents_by_time ON contents (content, received);
CREATE INDEX IF NOT EXISTS contents_by_day ON contents (day);
"""
Row = tuple[str, str, str, float, str]  # content, capture, key, received, day


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


def earlier(connection: sqlite3.Connection, row: Row, window: float) -> str | None:
    """Return the id ``row``'s event repeats: the latest other capture's within ``window`` before it, or None."""
    content, capture, _key, received, _day = row
    found = connection.execute(
        "SELECT key FROM contents WHERE content = ? AND capture != ? AND received <= ? AND received >= ?"
        " ORDER BY received DESC LIMIT 1",
        (content, capture, received, received - window),
    ).fetchone()
    return None if found is None else str(found[0])


def mark(connection: sqlite3.Connection, events: list[dict[str, Any]], day: str, window: float) -> None:
    """Set ``repeat_of`` on each event about to be written, and index it; in order, inside the caller's transaction."""
    for event in events:
        row = row_of(event, day)
        if row is not None:
            event["repeat_of"] = earlier(connection, row, window)
            remember(connection, [row])
