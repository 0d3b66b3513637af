"""Append JSON lines to the daily data files, which hold customer PII.

Files are created 0600 and directories 0700. The lines of one call are one
``write()`` under an exclusive ``flock``, so lines written by many processes
and threads never interleave. An append is all or nothing for the lines that
follow it:

- it starts on a fresh line, so a fragment left by a writer killed mid-append
  stays a line of its own (readers keep it aside as a torn line) instead of
  swallowing the next record;
- a write that fails half-way is cut back to where it started;
- a file unlinked while we waited for its lock (``compress``, ``prune``) is
  reopened by name, so no line is ever written into a file nobody reads.

``fdatasync`` runs after the lock is released, so concurrent writers share
the disk flush instead of queueing for it.
"""

import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from receiver.core.lines import NEWLINE

FILE_MODE = 0o600
DIR_MODE = 0o700
# Every process `smartech-dumper` starts creates files no one else can read, whatever the shell's umask:
# captures, events, indexes, counters and what a library makes for us (SQLite's -wal, prometheus_client's .db).
PRIVATE_UMASK = 0o077

_made: set[str] = set()  # directories this process has made or seen, to spare a stat() per request


def ensure_dir(path: str) -> str:
    """Create ``path`` and its parents with mode 0700 and return it."""
    if path not in _made:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
        _made.add(path)
    return path


def open_for_append(path: str) -> int:
    """Open ``path`` for appending (0600), making its directory again if it was removed."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC  # read: to see if the last line is whole
    try:
        return os.open(path, flags, FILE_MODE)
    except FileNotFoundError:
        _made.discard(os.path.dirname(path))
        ensure_dir(os.path.dirname(path))
        return os.open(path, flags, FILE_MODE)


def encode_line(record: Any) -> bytes:
    """Serialise ``record`` as one compact UTF-8 JSON line."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def locked_append(fd: int, data: bytes, check: Callable[[], None] | None = None) -> int:
    """Append ``data`` to the locked ``fd`` on a fresh line; return its start offset, cutting back on failure."""
    start = os.fstat(fd).st_size
    if check is not None:
        check()
    # A torn line before us (a writer killed mid-append): end it, so our record stands alone.
    lead = NEWLINE if start and os.pread(fd, 1, start - 1) != NEWLINE else b""
    try:
        write_all(fd, lead + data)
    except BaseException:
        try:
            os.ftruncate(fd, start)  # no half record stays behind for the next writer to glue onto
        except OSError:
            pass
        raise
    return start + len(lead)


@contextmanager
def locked(path: str, opener: Callable[[str], int] = open_for_append) -> Iterator[int]:
    """Yield ``path`` opened for appending and exclusively locked; a file unlinked meanwhile is reopened."""
    ensure_dir(os.path.dirname(path))
    while True:
        fd = opener(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink == 0:
                continue  # compressed or pruned while we waited: use the file that has the name now
            yield fd
            return
        finally:
            os.close(fd)  # also releases the lock


def append_lines(
    path: str, lines: Iterable[bytes], fsync: bool = False, check: Callable[[], None] | None = None
) -> int:
    """Append encoded ``lines`` to ``path`` atomically; return the offset of the first.

    ``check`` runs under the lock before writing and may raise to refuse the append.
    """
    with locked(path) as fd:
        start = locked_append(fd, b"".join(lines), check)
        fcntl.flock(fd, fcntl.LOCK_UN)
        if fsync:
            os.fdatasync(fd)
        return start
