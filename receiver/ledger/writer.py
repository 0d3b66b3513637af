"""Write events and rejects exactly once per host: the data files are the truth, an index remembers them.

An event id (for a reject: its capture id) is written at most once within the
dedup window. The check and the append happen under the day file's lock,
after the index has read every complete line the file holds, so a worker
killed between its append and its index update, a second worker on this
host, a retry after a Redis outage or a replay never writes an event twice.

The index (``spool/ledger.sqlite3``, ``ledger_index``) is derived from the
files, never the other way round: deleted, it is rebuilt from the files of the
window; a file that lost its tail in a power cut gives up the ids it no longer
holds, so they are written again; a file replaced by its ``.gz`` keeps its ids.
Events written get ``repeat_of`` (``repeats``); an old id given as an alias
(``upgrade``) counts as written too. ``lookup`` lets the readers ask, read-only.
The events written are then read into the customers' timeline (``timeline``).

Failure policy: OS and SQLite errors propagate, so RQ retries the job.
"""

import json
import logging
import os
import sqlite3
from contextlib import ExitStack
from typing import Any

from receiver.core import jsonl, layout
from receiver.core.settings import Settings
from receiver.ledger import repeats, timeline
from receiver.ledger.index import KEY_FIELDS, Seen, catch_up_window, connect, open_read_only, prune, seen_keys

log = logging.getLogger("receiver.ledger")


def lookup(data_dir: str, kind: str, keys: list[str]) -> dict[str, Seen]:
    """Return which of ``keys`` the host's index holds, read-only; nothing when there is no index (yet)."""
    try:
        connection = open_read_only(data_dir)
    except sqlite3.OperationalError:
        return {}
    if connection is None:
        return {}  # no index yet, or one the next worker rebuilds: nothing it says holds for this version
    try:
        return seen_keys(connection, kind, keys)
    except sqlite3.OperationalError:  # a locked or half-made index: say nothing rather than fail the reader
        return {}
    finally:
        connection.close()


# What a batch writes to one day file: its kind, its day, its records, their old ids (``upgrade``) or None,
# and their lines already encoded (``repeat_of`` null, as the analysis made them) or None.
Group = tuple[str, str, list[dict[str, Any]], list[str | None] | None, list[bytes | None] | None]
# Where an encoded event line says it repeats nothing: the ledger puts what it repeats there.
NO_REPEAT = b'"repeat_of":null'


def line_of(record: dict[str, Any], encoded: bytes | None) -> bytes:
    """Return ``record``'s line: the one encoded before, with its ``repeat_of`` put in; else encode it now.

    ``repeat_of`` follows ``event_id`` (a JSON string, so its text cannot hold an unescaped quote): the
    first ``"repeat_of":null`` of the line is the field itself.
    """
    repeat_of = record.get("repeat_of")
    if encoded is None or NO_REPEAT not in encoded:
        return jsonl.encode_line(record)
    if repeat_of is None:
        return encoded
    return encoded.replace(NO_REPEAT, b'"repeat_of":' + json.dumps(repeat_of, ensure_ascii=False).encode(), 1)


def write_once(
    settings: Settings, kind: str, day: str, records: list[dict[str, Any]], aliases: list[str | None] | None = None
) -> list[dict[str, Any]]:
    """Append the ``records`` of ``kind`` not written within the window; return those (``write_groups`` of one)."""
    return write_groups(settings, [(kind, day, records, aliases, None)])[0]


def write_groups(settings: Settings, groups: list[Group]) -> list[list[dict[str, Any]]]:
    """Append the records of each group not written within the window, in one transaction; return those, by group.

    A record also counts as written when its alias (the id an older rule gave it, ``upgrade``) is in the index.
    Events get ``repeat_of``: found for those written now (``repeats``), read back for the others. Each day file
    gets one append and one sync; the files are locked in a fixed order, so two workers never wait on each other.
    """
    if not groups:
        return []
    connection = connect(settings.data_dir)
    prune(connection, settings)
    jsonl.ensure_dir(settings.data_dir)
    order = sorted(range(len(groups)), key=lambda number: groups[number][:2])
    written: list[list[dict[str, Any]]] = [[] for _ in groups]
    with ExitStack() as files:
        handles = {}
        for number in order:
            kind, day = groups[number][:2]
            path = layout.day_path(settings.data_dir, kind, day)
            if path not in handles:
                handles[path] = files.enter_context(jsonl.locked(path))
        connection.execute("BEGIN IMMEDIATE")
        try:
            for number in order:
                kind, day, records, aliases, encoded = groups[number]
                path = layout.day_path(settings.data_dir, kind, day)
                fd = handles[path]
                written[number] = append_new(connection, settings, (kind, day, records, aliases, encoded), fd, path)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    # group[0] and group[1] are the kind and the day, whatever else a group carries
    events_days = [group[1] for group, fresh in zip(groups, written) if fresh and group[0] == layout.EVENTS]
    note_in_timeline(settings.data_dir, events_days)
    return written


def note_in_timeline(data_dir: str, days: list[str]) -> None:
    """Bring the customers' timeline index up to the events just written; a failure is logged, never raised."""
    if not days:
        return
    try:
        timeline.catch_up(data_dir, days)
    except (OSError, sqlite3.Error) as exc:  # the events are written: the next reader of the timeline catches up
        log.warning("timeline index not updated (%s: %s); the next reader catches up", type(exc).__name__, exc)


def append_new(
    connection: sqlite3.Connection, settings: Settings, group: Group, fd: int, path: str
) -> list[dict[str, Any]]:
    """Append to the locked day file ``fd`` the group's records the index does not hold, and note them."""
    kind, day, records, aliases, encoded = group
    catch_up_window(connection, settings, kind, day, fd, path)
    aliases = aliases or [None] * len(records)
    given: list[bytes | None] = list(encoded) if encoded else [None] * len(records)
    keys = [str(record[KEY_FIELDS[kind]]) for record in records]
    known = seen_keys(connection, kind, keys + [alias for alias in aliases if alias is not None])
    fresh, fresh_keys, fresh_lines, taken = [], [], [], set()
    for key, alias, record, line in zip(keys, aliases, records, given):
        if key in known:
            if kind == layout.EVENTS:
                record["repeat_of"] = known[key][1]  # as written the first time: a retry routes the same
        elif alias not in known and key not in taken:
            taken.add(key)
            fresh.append(record)
            fresh_keys.append(key)
            fresh_lines.append(line)
    if not fresh:
        return fresh
    if kind == layout.EVENTS:
        repeats.mark(connection, fresh, day, settings.repeat_window)
    lines = [line_of(record, line) for record, line in zip(fresh, fresh_lines)]
    offset = jsonl.locked_append(fd, b"".join(lines))
    if settings.fsync:
        os.fdatasync(fd)
    inode, rows = os.fstat(fd).st_ino, []
    for key, record, line in zip(fresh_keys, fresh, lines):
        rows.append((kind, key, day, path, inode, offset, record.get("capture_id"), record.get("repeat_of")))
        offset += len(line)
    connection.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    connection.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", (path, inode, offset, day))
    return fresh
