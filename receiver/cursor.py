"""Remember how far the captures log has been handed to RQ, and read what follows.

The cursor is ``{"day": "YYYY-MM-DD", "offset": N}`` in ``spool/cursor.json``,
replaced atomically (write, fsync, rename). Only complete lines are read, so a
capture still being written is never handed over half-written. A day is left
behind only once it has been over for ``DAY_GRACE`` seconds, so a request that
began before midnight and wrote just after it is never skipped.
"""
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import jsonl

SPOOL = "spool"
CURSOR_FILE = "cursor.json"
CAPTURES = "captures"
DAY_GRACE = 120.0
DEFAULT_BATCH_BYTES = 4 * 1024 * 1024
PENDING_SCAN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Cursor:
    """Point just after the last capture handed to RQ."""

    day: str
    offset: int


def spool_dir(data_dir):
    """Return (and create) the spool directory for the forwarder's state."""
    return jsonl.ensure_dir(os.path.join(jsonl.ensure_dir(data_dir), SPOOL))


def load(data_dir, now=None):
    """Return the saved cursor, or the start of today's captures when there is none."""
    try:
        with open(os.path.join(data_dir, SPOOL, CURSOR_FILE), encoding="utf-8") as handle:
            saved = json.load(handle)
        return Cursor(str(saved["day"]), int(saved["offset"]))
    except FileNotFoundError:
        return Cursor(jsonl.day_name(now), 0)


def save(data_dir, cursor):
    """Replace the saved cursor atomically."""
    path = os.path.join(spool_dir(data_dir), CURSOR_FILE)
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, jsonl.FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"day": cursor.day, "offset": cursor.offset}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def capture_days(data_dir):
    """Return the days that have an uncompressed captures file, oldest first."""
    try:
        names = os.listdir(os.path.join(data_dir, CAPTURES))
    except FileNotFoundError:
        return []
    return sorted(name[: -len(jsonl.SUFFIX)] for name in names if name.endswith(jsonl.SUFFIX))


def day_is_closed(day, now):
    """Return True once ``day`` (UTC) has been over for ``DAY_GRACE`` seconds."""
    end = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc) + timedelta(days=1)
    return (now or datetime.now(timezone.utc)) > end + timedelta(seconds=DAY_GRACE)


def read_lines(data_dir, cursor, max_bytes=DEFAULT_BATCH_BYTES, now=None):
    """Return ``(lines, next_cursor)``: complete capture lines after ``cursor``, oldest first."""
    while True:
        data = read_complete(jsonl.day_path(data_dir, CAPTURES, cursor.day), cursor.offset, max_bytes)
        if data:
            return data.splitlines(), Cursor(cursor.day, cursor.offset + len(data))
        later = [day for day in capture_days(data_dir) if day > cursor.day]
        if not later or not day_is_closed(cursor.day, now):
            return [], cursor
        cursor = Cursor(later[0], 0)


def read_complete(path, offset, max_bytes):
    """Return the complete lines from ``offset``: about ``max_bytes``, more if one line is longer."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return b""
    with handle:
        handle.seek(offset)
        data = handle.read(max_bytes)
        end = data.rfind(b"\n") + 1
        while end == 0 and len(data) >= max_bytes:
            more = handle.read(max_bytes)
            if not more:
                break
            data += more
            end = data.rfind(b"\n") + 1
        return data[:end]


def pending(data_dir, cursor, now=None, max_scan=PENDING_SCAN_BYTES):
    """Return ``(count, oldest_received_at)`` of the captures not yet handed to RQ.

    Counting stops after ``max_scan`` bytes, so a probe stays cheap during a long
    outage; the count is then a lower bound.
    """
    count, oldest, scanned = 0, None, 0
    while scanned < max_scan:
        lines, cursor_next = read_lines(data_dir, cursor, max_bytes=min(DEFAULT_BATCH_BYTES, max_scan), now=now)
        if not lines:
            return count, oldest
        if oldest is None:
            oldest = received_at(lines[0])
        count += len(lines)
        scanned += cursor_next.offset - cursor.offset if cursor_next.day == cursor.day else cursor_next.offset
        cursor = cursor_next
    return count, oldest


def received_at(line):
    """Return the ``received_at`` of a capture line as a datetime, or None."""
    try:
        stamp = json.loads(line)["received_at"]
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except (ValueError, KeyError, TypeError):
        return None
