"""The ledger's index: ``spool/ledger.sqlite3``, its layout, and reading the data files into it.

It is derived from the events and rejects files, never the other way round:
``catch_up`` reads the complete lines the index has not read yet, under the
caller's transaction; a file that lost its tail gives up the ids it no longer
holds; a file replaced by its ``.gz`` keeps its ids; an index of another
layout version is dropped and rebuilt from the files.

Failure policy: OS and SQLite errors propagate, so RQ retries the job.
"""

import gzip
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from receiver.core import jsonl, layout
from receiver.core.lines import complete_lines
from receiver.core.settings import Settings
from receiver.ledger import repeats

KEY_FIELDS = {layout.EVENTS: "event_id", layout.REJECTS: "capture_id"}
BUSY_TIMEOUT_MS = 30_000
WAL_RETRY_SECONDS = 0.02
IN_CHUNK = 500  # ids per SELECT ... IN (...)
PRUNE_EVERY = 3600.0
# The index's layout; an index of another version is dropped and rebuilt from the files.
SCHEMA_VERSION = 3
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, inode INTEGER, size INTEGER, day TEXT);
CREATE TABLE IF NOT EXISTS seen (kind TEXT, key TEXT, day TEXT, path TEXT, inode INTEGER, offset INTEGER,
                                 capture TEXT, repeat_of TEXT, PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS seen_by_file ON seen (path, inode, offset);
CREATE INDEX IF NOT EXISTS seen_by_day ON seen (day);
CREATE INDEX IF NOT EXISTS seen_by_capture ON seen (capture);
"""
    + repeats.SCHEMA
)
OLD_TABLES = ("files", "seen", "contents")
Seen = tuple[str | None, str | None]  # the capture that wrote a key, and the line's repeat_of
# (pid, data dir) -> connection: a forked work horse must not share its parent's
_open: dict[tuple[int, str], sqlite3.Connection] = {}
_pruned: dict[tuple[int, str], float] = {}  # (pid, data dir) -> when this process last pruned


def connect(data_dir: str) -> sqlite3.Connection:
    """Return this process's connection to the index of ``data_dir``."""
    key = (os.getpid(), os.path.abspath(data_dir))
    if key not in _open:
        path = os.path.join(layout.spool_dir(data_dir), layout.LEDGER_FILE)
        # Made 0600 first: SQLite would use the umask's mode, and gives -wal and -shm the database file's mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, jsonl.FILE_MODE))
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        use_wal(connection)
        connection.execute("PRAGMA synchronous=NORMAL")  # derived data: the files say what is true
        migrate(connection)
        _open[key] = connection
    return _open[key]


def open_read_only(data_dir: str) -> sqlite3.Connection | None:
    """Return a read-only connection to the index of ``data_dir``, or None when there is none of this layout."""
    path = os.path.abspath(layout.spool_path(data_dir, layout.LEDGER_FILE))
    if not os.path.exists(path):
        return None
    connection = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True)
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return connection
    except sqlite3.OperationalError:  # a locked or half-made index: as good as none for a reader
        pass
    connection.close()
    return None


def use_wal(connection: sqlite3.Connection) -> None:
    """Put the index in WAL mode once; wait out another worker that is switching it at the same moment.

    Switching the journal mode answers "database is locked" at once, without SQLite's busy timeout, when a
    second process opened the new file in the old mode: two workers starting together met it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_SECONDS)


def migrate(connection: sqlite3.Connection) -> None:
    """Give the index this version's tables: one of another version is dropped, to be rebuilt from the files."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            for table in OLD_TABLES:
                connection.execute(f"DROP TABLE IF EXISTS {table}")
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def window_days(settings: Settings, extra_day: str, now: datetime | None = None) -> list[str]:
    """Return the days whose files the dedup window covers, plus ``extra_day``."""
    today = (now or datetime.now(UTC)).date()
    days = {(today - timedelta(days=back)).isoformat() for back in range(int(settings.dedup_window // 86400) + 2)}
    return sorted(days | {extra_day})


def line_rows(kind: str, line: bytes, day: str) -> tuple[tuple[str, str | None, str | None] | None, repeats.Row | None]:
    """Return ``(key, capture, repeat_of)`` and the ``contents`` row of a data line; None for what it lacks."""
    try:
        record = json.loads(line)
        value = record.get(KEY_FIELDS[kind])
    except (ValueError, AttributeError):
        return None, None
    if value is None:
        return None, None
    capture, repeat_of = record.get("capture_id"), record.get("repeat_of")
    seen = (str(value), None if capture is None else str(capture), None if repeat_of is None else str(repeat_of))
    return seen, repeats.row_of(record, day) if kind == layout.EVENTS else None


def read_from(path: str, start: int) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for the complete lines of ``path`` from ``start`` (a .gz from its beginning)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from complete_lines(handle, start)


def catch_up(connection: sqlite3.Connection, kind: str, day: str, path: str, stat: os.stat_result) -> None:
    """Index the complete lines of ``path`` that the index has not read yet."""
    row = connection.execute("SELECT inode, size FROM files WHERE path = ?", (path,)).fetchone()
    start = 0
    if row is not None and row[0] == stat.st_ino and not path.endswith(".gz"):
        if stat.st_size == row[1]:
            return
        if stat.st_size > row[1]:
            start = row[1]
        else:  # the file lost its tail: forget what it no longer holds
            connection.execute(
                "DELETE FROM seen WHERE path = ? AND inode = ? AND offset >= ?", (path, stat.st_ino, stat.st_size)
            )
    elif row is not None and row[0] == stat.st_ino:
        return  # a .gz only ever changes by being replaced
    end, rows, contents = start, [], []
    for offset, line in read_from(path, start):
        seen, content = line_rows(kind, line, day)
        if seen is not None:
            rows.append((kind, seen[0], day, path, stat.st_ino, offset, seen[1], seen[2]))
            contents.append(content)
        end = offset + len(line)
    connection.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    repeats.remember(connection, contents)
    size = stat.st_size if path.endswith(".gz") else end
    connection.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (path, stat.st_ino, size, day))


def catch_up_window(
    connection: sqlite3.Connection, settings: Settings, kind: str, day: str, locked_fd: int, locked_path: str
) -> None:
    """Index every file of ``kind`` in the window; the locked file through its descriptor."""
    for each in window_days(settings, day):
        plain = layout.day_path(settings.data_dir, kind, each)
        for path in (plain + ".gz", plain):
            try:
                stat = os.fstat(locked_fd) if path == locked_path else os.stat(path)
            except FileNotFoundError:
                continue
            catch_up(connection, kind, each, path, stat)


def seen_keys(connection: sqlite3.Connection, kind: str, keys: list[str]) -> dict[str, Seen]:
    """Return the ``keys`` the index holds, each with the capture that wrote it and its ``repeat_of``."""
    found: dict[str, Seen] = {}
    for begin in range(0, len(keys), IN_CHUNK):
        chunk = keys[begin : begin + IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT key, capture, repeat_of FROM seen WHERE kind = ? AND key IN ({marks})"
        found.update(
            (key, (capture, repeat_of)) for key, capture, repeat_of in connection.execute(query, (kind, *chunk))
        )
    return found


def prune(connection: sqlite3.Connection, settings: Settings) -> None:
    """Forget ids of days that left the window, at most once per ``PRUNE_EVERY``."""
    key = (os.getpid(), os.path.abspath(settings.data_dir))
    if key in _pruned and time.monotonic() - _pruned[key] < PRUNE_EVERY:
        return
    _pruned[key] = time.monotonic()
    oldest = window_days(settings, "9999-12-31")[0]
    connection.execute("DELETE FROM seen WHERE day < ?", (oldest,))
    connection.execute("DELETE FROM files WHERE day < ?", (oldest,))
    connection.execute("DELETE FROM contents WHERE day < ?", (oldest,))
