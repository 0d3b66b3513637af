"""Read the captures that wait for the forwarder: the lines after the cursor, day after day.

A day is left only once its deadline (``layout.day_deadline``) has passed and
its file has been locked once after it, so no writer can still append to it.
The last bytes of a closed day without a newline (torn by a writer killed
mid-append) come out as a line of their own, for the forwarder to keep aside.
Failure policy: OS errors propagate; the forwarder retries on its next pass.
"""

import fcntl
import os
import time
from datetime import UTC, datetime

from receiver.capture.record import id_time, line_id
from receiver.core import layout
from receiver.core.lines import NEWLINE, read_complete
from receiver.forwarder.cursor import Cursor, current

PENDING_SCAN_BYTES = 64 * 1024 * 1024
SCAN_CHUNK = 1024 * 1024


def closed_rest(path: str, offset: int) -> bytes:
    """Lock a day file past its deadline once, then return what follows ``offset``: no writer can add to it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a writer that passed the deadline check has finished under it
        fcntl.flock(fd, fcntl.LOCK_UN)
        return os.pread(fd, os.fstat(fd).st_size - offset, offset) if os.fstat(fd).st_size > offset else b""
    finally:
        os.close(fd)


def read_lines(
    data_dir: str, cursor: Cursor, max_bytes: int, now: float | None = None
) -> tuple[list[tuple[int, bytes]], Cursor]:
    """Return ``(lines, next_cursor)``: ``(offset, line)`` pairs after ``cursor``, oldest first.

    ``now`` is a Unix time (default: the clock).
    """
    while True:
        path = layout.day_path(data_dir, layout.CAPTURES, cursor.day)
        data = read_complete(path, cursor.offset, max_bytes)
        if not data:
            later = [day for day in layout.plain_days(data_dir, layout.CAPTURES) if day > cursor.day]
            clock = now if now is not None else time.time()
            if not later or clock <= layout.day_deadline(cursor.day):
                return [], cursor
            data = closed_rest(path, cursor.offset)
            if not data:
                cursor = Cursor(later[0], 0)
                continue
        lines, offset = [], cursor.offset
        for line in data.splitlines(keepends=True):
            lines.append((offset, line))
            offset += len(line)
        return lines, Cursor(cursor.day, offset, cursor.last_id)


def pending(
    data_dir: str, cursor: Cursor | None = None, max_scan: int = PENDING_SCAN_BYTES
) -> tuple[int, datetime | None]:
    """Return ``(count, oldest_received_at)`` of the captures not yet handed to RQ.

    Nothing is locked or parsed but the first waiting line, and counting stops after
    ``max_scan`` bytes, so a probe stays cheap during a long outage (the count is then a lower bound).
    """
    cursor = cursor or current(data_dir)
    count, oldest, scanned = 0, None, 0
    for day in [day for day in layout.plain_days(data_dir, layout.CAPTURES) if day >= cursor.day]:
        try:
            handle = open(layout.day_path(data_dir, layout.CAPTURES, day), "rb")
        except FileNotFoundError:
            continue
        with handle:
            handle.seek(cursor.offset if day == cursor.day else 0)
            while oldest is None and scanned < max_scan:  # the oldest capture: torn lines have no time
                line = handle.readline()
                if not line.endswith(NEWLINE):
                    break
                oldest = received_at(line)
                count, scanned = count + 1, scanned + len(line)
            while scanned < max_scan:
                chunk = handle.read(min(SCAN_CHUNK, max_scan - scanned))
                if not chunk:
                    break
                count, scanned = count + chunk.count(NEWLINE), scanned + len(chunk)
    return count, oldest


def received_at(line: bytes) -> datetime | None:
    """Return when the capture on ``line`` was received (its id's time), or None."""
    millis = id_time(line_id(line))
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=UTC)
