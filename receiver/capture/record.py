"""Turn one authenticated request into a capture record and put it on disk.

The capture log is the source of truth: a record is written, whole, before
the request is answered. Write failures are raised to the caller, which
decides whether another store (Redis) holds the payload instead.

A capture's day file is the UTC day of its id, chosen once the body is read.
A day file takes captures until ``WRITE_GRACE`` seconds after its midnight;
the check runs under the file's lock, so once the forwarder has taken that
lock after the deadline, no capture can be added behind it. A writer that
stalled past the deadline gets ``DayClosed`` and takes a new id.
"""

import base64
import functools
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from receiver.core import ids, jsonl, layout
from receiver.core.settings import Settings
from receiver.web.commit import GroupCommit

KIND = layout.CAPTURES
DEFAULT_SOURCE = "default"
WRITE_GRACE = 120.0
DAY_FORMAT = "%Y-%m-%d"
# Printable ASCII stays as sent (percent-escapes too); a space, a control or a non-ASCII byte is %-encoded.
QUERY_SAFE = "".join(sorted(set(string.printable) - set(string.whitespace)))


class DayClosed(Exception):
    """The capture's day file no longer takes writes; the capture needs a new id."""


@dataclass(frozen=True)
class Delivery:
    """Hold what we keep of one webhook request, normalised from the WSGI request."""

    id: str
    received_ms: int
    source: str
    remote_addr: str
    method: str
    path: str
    content_type: str | None  # None: the request had no Content-Type
    user: str | None  # None: authentication is disabled
    body: bytes
    query: str = ""

    @property
    def received_at(self) -> datetime:
        """Return the receive time as a UTC datetime."""
        return datetime.fromtimestamp(self.received_ms / 1000, tz=UTC)


def new_delivery(
    capture_id: str,
    source: str,
    remote_addr: str,
    method: str,
    path: str,
    content_type: str | None,
    user: str | None,
    body: bytes,
    query: str = "",
) -> Delivery:
    """Return a ``Delivery`` whose receive time is the time in its ULID ``capture_id``."""
    return Delivery(
        capture_id, ids.id_time_ms(capture_id), source, remote_addr, method, path, content_type, user, body, query
    )


def renewed(delivery: Delivery) -> Delivery:
    """Return ``delivery`` with a new id (and so a new day), for one whose day closed."""
    capture_id = ids.new_id()
    return replace(delivery, id=capture_id, received_ms=ids.id_time_ms(capture_id))


@functools.lru_cache(maxsize=8)  # a few days at most are live; strptime on every request cost 30 µs
def day_deadline(day: str) -> float:
    """Return the Unix time after which ``day``'s captures file takes no more writes."""
    start = datetime.strptime(day, DAY_FORMAT).replace(tzinfo=UTC)
    return (start + timedelta(days=1)).timestamp() + WRITE_GRACE


def open_check(day: str, clock: Callable[[], float] = time.time) -> Callable[[], None]:
    """Return the check, run under the file lock, that refuses writes to ``day`` past its deadline."""
    deadline = day_deadline(day)

    def check() -> None:
        if clock() > deadline:
            raise DayClosed(day)

    return check


def iso_ms(when: datetime) -> str:
    """Format a UTC datetime as ISO 8601 with milliseconds and a Z."""
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def to_record(delivery: Delivery) -> dict[str, Any]:
    """Return the JSON-safe capture record of ``delivery``; the body is kept exactly."""
    record: dict[str, Any] = {
        "id": delivery.id,
        "received_at": iso_ms(delivery.received_at),
        "source": delivery.source,
        "remote_addr": delivery.remote_addr,
        "method": delivery.method,
        "path": delivery.path,
        "content_type": delivery.content_type,
        "user": delivery.user,
        "size": len(delivery.body),
    }
    if delivery.query:
        # WSGI hands the raw query bytes as Latin-1 text; non-ASCII bytes are percent-encoded, exactly.
        record["query"] = quote(delivery.query.encode("latin-1"), safe=QUERY_SAFE)
    try:
        record["body"] = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        record["body"] = base64.b64encode(delivery.body).decode("ascii")
        record["body_encoding"] = "base64"
    return record


def body_bytes(record: Mapping[str, Any]) -> bytes:
    """Return the original body bytes of a capture record."""
    if record.get("body_encoding") == "base64":
        return base64.b64decode(record["body"])
    return record["body"].encode("utf-8")


def write(
    settings: Settings, record: dict[str, Any], received_at: datetime, committer: GroupCommit | None = None
) -> int:
    """Append ``record`` to the captures file of its UTC day; raise ``OSError`` or ``DayClosed``.

    With a ``committer`` (``commit.GroupCommit``) the write and sync are shared with concurrent requests.
    """
    day = layout.day_name(received_at)
    path = layout.day_path(settings.data_dir, KIND, day)
    jsonl.ensure_dir(settings.data_dir)  # makedirs gives the mode only to the leaf; the root holds PII too
    line = jsonl.encode_line(record)
    check = open_check(day)
    check()  # also before the open, so a stalled writer does not create a closed day's file again
    if committer is not None:
        return committer.append(path, line, check)
    return jsonl.append_lines(path, [line], fsync=settings.fsync, check=check)
