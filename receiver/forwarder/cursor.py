"""Remember how far the captures log has been handed to RQ: the forwarder's cursor.

The cursor is ``{"day", "offset", "last_id", "last_len"}`` in
``spool/cursor.json``: the offset just after the capture ``last_id``, whose
line is ``last_len`` bytes long, in ``captures/<day>.jsonl``. Rules
that keep the forwarder from ever skipping a capture:

- Only complete lines are read, so a capture still being written waits.
- ``save`` flushes the captures file before the cursor that points past it.
- ``checked`` tests the cursor against its file before each read: the line
  that ends at the offset must still be the capture ``last_id``. A file
  shorter than the offset (its tail lost in a power cut), or cut and grown
  again, makes the cursor ``resync``: just after the line of ``last_id``, or,
  when that line is gone, at the first capture received
  ``RESYNC_MARGIN_MS`` before it. Handing a capture over twice is harmless:
  its job is queued at most once and its events are deduplicated.
- Without a saved cursor, forwarding starts at the oldest captures file.

Reading what follows the cursor is ``backlog``'s job.
"""

import logging
import os
from dataclasses import dataclass

from receiver.capture.record import id_time, line_id
from receiver.core import layout, statefile
from receiver.core.lines import NEWLINE

log = logging.getLogger("receiver.forwarder")
RESYNC_MARGIN_MS = 60_000


@dataclass(frozen=True)
class Cursor:
    """Point just after the last capture handed to RQ."""

    day: str
    offset: int
    last_id: str | None = None  # the capture on the line that ends at ``offset`` (None: unknown, or a torn line)
    last_len: int = 0  # that line's length in bytes (0: unknown)


def cursor_path(data_dir: str) -> str:
    """Return the path of the saved cursor."""
    return layout.spool_path(data_dir, layout.CURSOR_FILE)


def load(data_dir: str) -> Cursor | None:
    """Return the saved cursor, or None when none was ever saved."""
    saved = statefile.read_json(cursor_path(data_dir))
    if saved is None:
        return None
    return Cursor(str(saved["day"]), int(saved["offset"]), saved.get("last_id"), int(saved.get("last_len", 0)))


def start(data_dir: str) -> Cursor:
    """Return where forwarding starts without a saved cursor: the oldest captures file, else today."""
    days = layout.plain_days(data_dir, layout.CAPTURES)
    return Cursor(days[0] if days else layout.day_name(), 0)


def current(data_dir: str) -> Cursor:
    """Return the saved cursor, or where forwarding would start."""
    return load(data_dir) or start(data_dir)


def save(data_dir: str, cursor: Cursor) -> None:
    """Flush the captures file the cursor points into, then replace the saved cursor atomically."""
    path = layout.day_path(data_dir, layout.CAPTURES, cursor.day)
    fd: int | None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None
    if fd is not None:
        try:
            os.fdatasync(fd)  # a cursor must never point past bytes that a power cut can take back
        finally:
            os.close(fd)
    layout.spool_dir(data_dir)
    statefile.write_json(
        cursor_path(data_dir),
        {"day": cursor.day, "offset": cursor.offset, "last_id": cursor.last_id, "last_len": cursor.last_len},
    )


def checked(data_dir: str, cursor: Cursor) -> Cursor:
    """Return ``cursor`` if its file still holds, just before the offset, the line it was saved after.

    Otherwise (the file was cut, or cut and grew again) return where forwarding must resume.
    """
    if cursor.offset == 0:
        return cursor
    span = min(cursor.last_len or 1, cursor.offset)
    try:
        with open(layout.day_path(data_dir, layout.CAPTURES, cursor.day), "rb") as handle:
            fd = handle.fileno()
            if os.fstat(fd).st_size >= cursor.offset:
                start = cursor.offset - span
                # The byte before the line (a newline, or the start of the file), then the line itself.
                before = os.pread(fd, span + 1, start - 1) if start else NEWLINE + os.pread(fd, span, 0)
                if (
                    before.endswith(NEWLINE)
                    and (not cursor.last_len or before[:1] == NEWLINE)
                    and (cursor.last_id is None or line_id(before[1:]) == cursor.last_id)
                ):
                    return cursor
    except FileNotFoundError:
        pass
    return resync(data_dir, cursor)


def resync(data_dir: str, cursor: Cursor) -> Cursor:
    """Return the cursor just after ``last_id``'s line, or at the first capture near its time."""
    found, found_len, margin_start, offset = None, 0, None, 0
    last_time = id_time(cursor.last_id)
    floor = last_time - RESYNC_MARGIN_MS if last_time is not None else 0
    try:
        with open(layout.day_path(data_dir, layout.CAPTURES, cursor.day), "rb") as handle:
            for line in handle:
                if not line.endswith(NEWLINE):
                    break
                found_id = line_id(line)
                if found_id is not None and found_id == cursor.last_id:
                    found, found_len = offset + len(line), len(line)
                elif margin_start is None and (id_time(found_id) or 0) >= floor:
                    margin_start = offset
                offset += len(line)
    except FileNotFoundError:
        pass
    resume = found if found is not None else (margin_start if margin_start is not None else offset)
    log.warning(
        "cursor %s@%d does not match its captures file; resuming at offset %d (%s)",
        cursor.day,
        cursor.offset,
        resume,
        "after its last capture" if found is not None else "a minute before it",
    )
    if found is not None:
        return Cursor(cursor.day, resume, cursor.last_id, found_len)
    return Cursor(cursor.day, resume)
