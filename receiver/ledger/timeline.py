"""The customers' timeline index: ``spool/timeline.sqlite3``, every event by customer, newest first.

One row per event and customer id it names (its ``foreignkey`` and its
``identity``), under the keyed hash of that id (``core/customerkey.py``):
the index holds no id in plain. It is derived from the events files, never the
other way round. ``catch_up`` reads what a file holds past what the index has
read: a ``.jsonl`` from the offset it reached (from its start when the file was
replaced), a ``.jsonl.gz`` whole when it changed; rows are keyed by event, so
reading a line twice adds nothing. A day whose files are gone (``prune``,
``forget``) loses its rows. Deleted, the index is rebuilt from the files on
next use; the worker catches up the days it wrote after each batch.

Failure policy: OS and SQLite errors propagate; the worker's call
(``ledger.writer``) logs them and goes on, the next reader catches up.
"""

import gzip
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from receiver.core import customerkey, jsonl, layout
from receiver.core.lines import complete_lines

BUSY_TIMEOUT_SECONDS = 30.0
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (path TEXT PRIMARY KEY, day TEXT, inode INTEGER, size INTEGER, mtime INTEGER,
                                    offset INTEGER);
CREATE TABLE IF NOT EXISTS timeline (customer TEXT, received_at TEXT, event_id TEXT, capture_id TEXT, day TEXT,
                                     channel TEXT, activity TEXT, journey TEXT, webhook_name TEXT,
                                     PRIMARY KEY (customer, received_at, event_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timeline_by_day ON timeline (day);
"""
CUSTOMER_FIELDS = ("foreignkey", "identity")
ROW_FIELDS = ("received_at", "event_id", "capture_id", "day", "channel", "activity", "journey", "webhook_name")
INSERT_CHUNK = 5000
Row = dict[str, Any]


def connect(data_dir: str) -> sqlite3.Connection:
    """Return a new connection to the timeline index of ``data_dir`` (made 0600 first), of this layout."""
    path = layout.spool_path(data_dir, layout.TIMELINE_FILE)
    jsonl.ensure_dir(os.path.dirname(path))
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, jsonl.FILE_MODE))
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")  # derived data: the files say what is true
    if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("DROP TABLE IF EXISTS sources")
        connection.execute("DROP TABLE IF EXISTS timeline")
        connection.execute("COMMIT")
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return connection


def event_rows(key: bytes, day: str, lines: Iterable[bytes]) -> Iterator[tuple[str | None, ...]]:
    """Yield the index rows of some events lines: one per customer id each names; unreadable lines give none."""
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        names = {str(event[field]).strip() for field in CUSTOMER_FIELDS if event.get(field) not in (None, "")}
        for customer in {customerkey.customer_hash(key, name) for name in names if name}:
            values = (event.get("received_at"), event.get("event_id"), event.get("capture_id"), day)
            extra = (event.get("channel"), event.get("activity"), event.get("journey_name"), event.get("webhook_name"))
            yield (customer, *(None if value is None else str(value) for value in (*values, *extra)))


def insert(connection: sqlite3.Connection, rows: Iterable[tuple[str | None, ...]]) -> None:
    """Insert ``rows`` (an event already held adds nothing)."""
    connection.executemany("INSERT OR IGNORE INTO timeline VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def read_file(connection: sqlite3.Connection, key: bytes, path: str, day: str) -> None:
    """Read into the index what ``path`` holds past what the index read of it; note how far it got."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        connection.execute("DELETE FROM sources WHERE path = ?", (path,))
        return
    row = connection.execute("SELECT inode, size, mtime, offset FROM sources WHERE path = ?", (path,)).fetchone()
    signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if row is not None and tuple(row[:3]) == signature:
        return
    offset = 0
    if path.endswith(layout.SUFFIX) and row is not None and row[0] == stat.st_ino and stat.st_size >= row[3]:
        offset = row[3]  # the same file grown: only its new lines
    opener = gzip.open if path.endswith(layout.GZ_SUFFIX) else open
    with opener(path, "rb") as handle:
        reached = offset
        chunk: list[bytes] = []
        for start, line in complete_lines(handle, offset):  # a line still being written waits for the next time
            chunk.append(line)
            reached = start + len(line)
            if len(chunk) >= INSERT_CHUNK:
                insert(connection, event_rows(key, day, chunk))
                chunk = []
        insert(connection, event_rows(key, day, chunk))
    values = (path, day, *signature, reached)
    connection.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)", values)


def signature_of(path: str) -> tuple[int, int, int] | None:
    """Return what tells a file changed: its inode, size and modification time; None when it is missing."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def event_days(data_dir: str) -> list[str]:
    """Return every day that has an events file, plain or compressed."""
    try:
        names = os.listdir(os.path.join(data_dir, layout.EVENTS))
    except FileNotFoundError:
        return []
    return sorted({name.split(".")[0] for name in names if name.endswith((layout.SUFFIX, layout.GZ_SUFFIX))})


def catch_up(data_dir: str, days: Iterable[str] | None = None, connection: sqlite3.Connection | None = None) -> None:
    """Bring the index up to the events files of ``days`` (all days: also drop the days whose files are gone)."""
    own = connection is None
    connection = connection or connect(data_dir)
    key = customerkey.load_key(data_dir)
    try:
        wanted = sorted(set(days)) if days is not None else event_days(data_dir)
        known = {row[0]: tuple(row[1:]) for row in connection.execute("SELECT path, inode, size, mtime FROM sources")}
        for day in wanted:
            for suffix in (layout.GZ_SUFFIX, layout.SUFFIX):
                path = os.path.join(data_dir, layout.EVENTS, day + suffix)
                if signature_of(path) == known.get(path):
                    continue  # read already: no write transaction, so readers never queue behind the worker
                connection.execute("BEGIN IMMEDIATE")
                try:
                    read_file(connection, key, path, day)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        if days is None:
            gone = {day for (day,) in connection.execute("SELECT DISTINCT day FROM sources")} - set(wanted)
            for day in sorted(gone):
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("DELETE FROM timeline WHERE day = ?", (day,))
                connection.execute("DELETE FROM sources WHERE day = ?", (day,))
                connection.execute("COMMIT")
    finally:
        if own:
            connection.close()


def customer_events(data_dir: str, customer: str, limit: int, before: tuple[str, str] | None = None) -> list[Row]:
    """Return up to ``limit`` events of ``customer``, newest first, older than ``before`` (received_at, event_id)."""
    connection = connect(data_dir)
    try:
        catch_up(data_dir, connection=connection)
        hashed = customerkey.customer_hash(customerkey.load_key(data_dir), customer)
        query = f"SELECT {', '.join(ROW_FIELDS)} FROM timeline WHERE customer = ?"
        arguments: list[Any] = [hashed]
        if before is not None:
            query += " AND (received_at < ? OR (received_at = ? AND event_id < ?))"
            arguments += [before[0], before[0], before[1]]
        query += " ORDER BY received_at DESC, event_id DESC LIMIT ?"
        rows = connection.execute(query, [*arguments, limit]).fetchall()
    finally:
        connection.close()
    return [dict(zip(ROW_FIELDS, row)) for row in rows]
