"""Append JSON lines to the daily data files, which hold customer PII.

Files are created 0600 and directories 0700. The lines of one call are one
``write()`` under an exclusive ``flock``, so lines written by many processes
and threads never interleave. ``fdatasync`` runs after the lock is released,
so concurrent writers share the disk flush instead of queueing for it.
"""
import fcntl
import json
import os
from datetime import datetime, timezone

FILE_MODE = 0o600
DIR_MODE = 0o700
SUFFIX = ".jsonl"


def day_name(when=None):
    """Return the UTC date of ``when`` (default now) as ``YYYY-MM-DD``."""
    when = when or datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d")


_made = set()  # directories this process has made or seen, to spare a stat() per request


def ensure_dir(path):
    """Create ``path`` and its parents with mode 0700 and return it."""
    if path not in _made:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
        _made.add(path)
    return path


def open_for_append(path):
    """Open ``path`` for appending (0600), making its directory again if it was removed."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    try:
        return os.open(path, flags, FILE_MODE)
    except FileNotFoundError:
        _made.discard(os.path.dirname(path))
        ensure_dir(os.path.dirname(path))
        return os.open(path, flags, FILE_MODE)


def day_path(data_dir, kind, day):
    """Return the path of the ``kind`` file (captures, events, rejects) for ``day``."""
    return os.path.join(data_dir, kind, day + SUFFIX)


def encode_line(record):
    """Serialise ``record`` as one compact UTF-8 JSON line."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def append_lines(path, lines, fsync=False):
    """Append already-encoded ``lines`` to ``path`` atomically with respect to other writers."""
    ensure_dir(os.path.dirname(path))
    data = b"".join(lines)
    fd = open_for_append(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        fcntl.flock(fd, fcntl.LOCK_UN)
        if fsync:
            os.fdatasync(fd)
    finally:
        os.close(fd)


def append_records(data_dir, kind, records, day=None, fsync=False):
    """Append ``records`` to today's (or ``day``'s) ``kind`` file and return its path."""
    ensure_dir(data_dir)  # makedirs gives the mode only to the leaf; the root holds PII too
    path = day_path(data_dir, kind, day or day_name())
    append_lines(path, [encode_line(r) for r in records], fsync=fsync)
    return path
