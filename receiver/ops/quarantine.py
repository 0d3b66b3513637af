"""Keep the posts refused for their credentials, capped, so an operator can look and hand them on once.

Smartech disables a webhook whose endpoint keeps failing: a password rotated
on one side only costs every event it posts meanwhile. So a post that fails
basic auth (from inside ``DUMPER_ALLOWED_IPS``, or anywhere with
``DUMPER_QUARANTINE=true``) still gets its 401, but its body is kept in
``quarantine/`` under the data dir: one file per post, ``<id>.post`` (mode
0600), a JSON header line (when, address, source, path, content type, the
headers but ``Authorization``, the reason) then the raw body. Past
``DUMPER_QUARANTINE_BYTES`` the oldest posts go first. A quarantined body is
never processed on its own: only ``handover.release`` turns one into a
capture, exactly once (the entry becomes ``<id>.released`` and names it).

Failure policy: ``keep`` raises ``OSError`` (the web logs it and still
answers 401); ``summary`` raises ``OSError`` for an unreadable directory;
an unknown or malformed id raises ``UnknownEntry``, whose message names it.
"""

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from receiver.capture import record as capture
from receiver.core import ids, jsonl, layout
from receiver.store.select import normal_id

POST, RELEASED = ".post", ".released"
RECENT_SECONDS = 86400.0  # a post refused within this long counts as recent (the alert, /readyz, /metrics)
SECRET_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie"))


class UnknownEntry(KeyError):
    """No quarantined post has this id; the message names the id and the directory."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class KeptPost:
    """One quarantined post on disk: its id, whether it was released, its size in bytes."""

    id: str
    released: bool
    size: int


def folder(data_dir: str) -> str:
    """Return the quarantine directory (made 0700 if it is not there)."""
    return jsonl.ensure_dir(os.path.join(jsonl.ensure_dir(data_dir), layout.QUARANTINE_DIR))


@contextmanager
def releasing(data_dir: str) -> Iterator[str]:
    """Hold the quarantine's lock (``quarantine/.release.lock``) while the block runs; yield the directory."""
    directory = folder(data_dir)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
    fd = os.open(os.path.join(directory, layout.QUARANTINE_LOCK), flags, jsonl.FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield directory
    finally:
        os.close(fd)


def scan(directory: str) -> list[KeptPost]:
    """Return the entries of ``directory``, oldest first (an id is a ULID); a released one wins over its post."""
    found: dict[str, KeptPost] = {}
    with os.scandir(directory) as listing:
        for item in listing:
            stem, dot, suffix = item.name.partition(".")
            if not dot or "." + suffix not in (POST, RELEASED) or len(stem) != ids.ID_LENGTH:
                continue
            try:
                size = item.stat().st_size
            except FileNotFoundError:  # dropped or released meanwhile
                continue
            if stem not in found or "." + suffix == RELEASED:
                found[stem] = KeptPost(stem, "." + suffix == RELEASED, size)
    return [found[key] for key in sorted(found)]


def entries(data_dir: str) -> list[KeptPost]:
    """Return every quarantined post, oldest first; none when there is no quarantine yet."""
    directory = os.path.join(data_dir, layout.QUARANTINE_DIR)
    return scan(directory) if os.path.isdir(directory) else []


def make_room(directory: str, needed: int, cap: int) -> None:
    """Remove the oldest entries until ``needed`` more bytes fit under ``cap``."""
    kept = scan(directory)
    total = sum(entry.size for entry in kept)
    for entry in kept:
        if total + needed <= cap:
            return
        for suffix in (POST, RELEASED):
            try:
                os.unlink(os.path.join(directory, entry.id + suffix))
            except FileNotFoundError:
                pass
        total -= entry.size


def keep(
    data_dir: str, cap: int, request: dict[str, Any], headers: Iterable[tuple[str, str]], body: bytes
) -> str | None:
    """Keep one refused post; return its id, or None when it alone is over ``cap``.

    ``request`` holds ``source``, ``remote_addr``, ``method``, ``path``, ``query``, ``content_type`` and ``reason``.
    """
    entry_id = ids.new_id()
    header = {
        "id": entry_id,
        "received_at": capture.utc_ms(datetime.fromtimestamp(ids.id_time_ms(entry_id) / 1000, UTC)),
        **request,
        "headers": [[name, value] for name, value in headers if name.lower() not in SECRET_HEADERS],
        "user": None,
        "size": len(body),
        "released_as": None,
    }
    data = jsonl.encode_line(header) + body
    if len(data) > cap:
        return None
    with releasing(data_dir) as directory:
        make_room(directory, len(data), cap)
        fd = os.open(os.path.join(directory, entry_id + POST), os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonl.FILE_MODE)
        try:
            jsonl.write_all(fd, data)
        finally:
            os.close(fd)
    return entry_id


def path_of(data_dir: str, entry_id: str) -> str:
    """Return the file of the entry ``entry_id`` (released or not); raise ``UnknownEntry``."""
    directory = os.path.join(data_dir, layout.QUARANTINE_DIR)
    try:
        key = normal_id(entry_id)
    except ValueError:
        raise UnknownEntry(f"not a quarantine id: {entry_id!r}") from None
    for suffix in (RELEASED, POST):
        if os.path.exists(os.path.join(directory, key + suffix)):
            return os.path.join(directory, key + suffix)
    raise UnknownEntry(f"no quarantined post {key} in {directory}")


def read_record(data_dir: str, entry_id: str) -> tuple[dict[str, Any], bytes]:
    """Return the header and the exact body of one quarantined post; raise ``UnknownEntry`` or ``OSError``."""
    path = path_of(data_dir, entry_id)
    with open(path, "rb") as handle:
        header, body = handle.readline(), handle.read()
    try:
        return json.loads(header), body
    except ValueError:
        raise UnknownEntry(f"unreadable quarantine file {path}") from None


def summary(data_dir: str, now: float) -> dict[str, Any]:
    """Return ``{posts, bytes, recent, newest_age_seconds}``: posts not released, all bytes kept, the recent ones."""
    held = entries(data_dir)
    waiting = [entry for entry in held if not entry.released]
    ages = [max(0.0, now - ids.id_time_ms(entry.id) / 1000) for entry in waiting]
    return {
        "posts": len(waiting),
        "bytes": sum(entry.size for entry in held),
        "recent": sum(1 for age in ages if age < RECENT_SECONDS),
        "newest_age_seconds": min(ages) if ages else None,
    }


def drop(data_dir: str, entry_id: str) -> None:
    """Remove one quarantined post for good; raise ``UnknownEntry``."""
    with releasing(data_dir):
        os.unlink(path_of(data_dir, entry_id))
