"""Append JSON lines to the daily data files, which hold customer PII.

Files are created 0600 and directories 0700. Each record is one ``write()``
of one whole line under an exclusive ``flock``, so lines written by many
processes and threads never interleave.
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


def ensure_dir(path):
    """Create ``path`` and its parents with mode 0700 and return it."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    return path


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
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            os.fdatasync(fd)
    finally:
        os.close(fd)  # closing also releases the lock


def append_records(data_dir, kind, records, day=None, fsync=False):
    """Append ``records`` to today's (or ``day``'s) ``kind`` file and return its path."""
    ensure_dir(data_dir)  # makedirs gives the mode only to the leaf; the root holds PII too
    path = day_path(data_dir, kind, day or day_name())
    append_lines(path, [encode_line(r) for r in records], fsync=fsync)
    return path
