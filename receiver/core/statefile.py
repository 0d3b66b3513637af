"""Keep small state files (cursor, alert state) whole: replace them atomically, read them leniently.

A write goes to a temporary file beside the target, is fsynced, renamed over
the target, and the directory is fsynced, so after a crash or power cut the
file holds either the old or the new value, never a mix. A failed write
leaves no temporary file behind.
"""

import json
import os
import tempfile
from typing import Any

FILE_MODE = 0o600


def fsync_dir(path: str) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str, value: Any, durable: bool = True) -> None:
    """Replace ``path`` with ``value`` as JSON, atomically (and durably, unless told not to), mode 0600."""
    folder, name = os.path.split(path)
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fsync_dir(folder)


def read_json(path: str) -> Any:
    """Return the JSON value in ``path``, or None when there is no such file; raise ValueError if unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
