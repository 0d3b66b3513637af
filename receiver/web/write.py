"""Put one capture record on disk, in its day's captures file, before the request is answered.

The capture log is the source of truth: a record is written, whole, before
the request is answered. Write failures are raised to the caller, which
decides whether another store (Redis) holds the payload instead.

A capture's day file is the UTC day of its id, chosen once the body is read.
A day file takes captures until ``layout.WRITE_GRACE`` seconds after its
midnight; the check runs under the file's lock, so once the forwarder has
taken that lock after the deadline, no capture can be added behind it. A
writer that stalled past the deadline gets ``DayClosed`` and takes a new id.
"""

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from receiver.core import jsonl, layout
from receiver.core.settings import Settings
from receiver.web.commit import GroupCommit


class DayClosed(Exception):
    """The capture's day file no longer takes writes; the capture needs a new id."""


def open_check(day: str, clock: Callable[[], float] = time.time) -> Callable[[], None]:
    """Return the check, run under the file lock, that refuses writes to ``day`` past its deadline."""
    deadline = layout.day_deadline(day)

    def check() -> None:
        if clock() > deadline:
            raise DayClosed(day)

    return check


def write(
    settings: Settings, record: dict[str, Any], received_at: datetime, committer: GroupCommit | None = None
) -> int:
    """Append ``record`` to the captures file of its UTC day; raise ``OSError`` or ``DayClosed``.

    With a ``committer`` (``commit.GroupCommit``) the write and sync are shared with concurrent requests.
    """
    day = layout.day_name(received_at)
    path = layout.day_path(settings.data_dir, layout.CAPTURES, day)
    jsonl.ensure_dir(settings.data_dir)  # makedirs gives the mode only to the leaf; the root holds PII too
    line = jsonl.encode_line(record)
    check = open_check(day)
    check()  # also before the open, so a stalled writer does not create a closed day's file again
    if committer is not None:
        return committer.append(path, line, check)
    return jsonl.append_lines(path, [line], fsync=settings.fsync, check=check)
