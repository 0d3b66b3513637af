"""Turn one authenticated request into a capture record and put it on disk.

The capture log is the source of truth: a record is written, whole, before
the request is answered. Write failures are raised to the caller, which
decides whether another store (Redis) holds the payload instead.
"""
import base64
from dataclasses import dataclass
from datetime import datetime, timezone

from . import ids, jsonl

KIND = "captures"
DEFAULT_SOURCE = "default"


@dataclass(frozen=True)
class Delivery:
    """Hold what we keep of one webhook request, normalised from the WSGI request."""

    id: str
    received_ms: int
    source: str
    remote_addr: str
    method: str
    path: str
    content_type: str
    user: str
    body: bytes

    @property
    def received_at(self):
        """Return the receive time as a UTC datetime."""
        return datetime.fromtimestamp(self.received_ms / 1000, tz=timezone.utc)


def new_delivery(capture_id, source, remote_addr, method, path, content_type, user, body):
    """Return a ``Delivery`` whose receive time is the time in its ULID ``capture_id``."""
    return Delivery(capture_id, ids.id_time_ms(capture_id), source, remote_addr, method,
                    path, content_type, user, body)


def iso_ms(when):
    """Format a UTC datetime as ISO 8601 with milliseconds and a Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def to_record(delivery):
    """Return the JSON-safe capture record of ``delivery``; the body is kept exactly."""
    record = {
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
    try:
        record["body"] = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        record["body"] = base64.b64encode(delivery.body).decode("ascii")
        record["body_encoding"] = "base64"
    return record


def body_bytes(record):
    """Return the original body bytes of a capture record."""
    if record.get("body_encoding") == "base64":
        return base64.b64decode(record["body"])
    return record["body"].encode("utf-8")


def write(settings, record, received_at):
    """Append ``record`` to the captures file of its UTC day; raise ``OSError`` on failure."""
    return jsonl.append_records(settings.data_dir, KIND, [record],
                                day=jsonl.day_name(received_at), fsync=settings.fsync)
