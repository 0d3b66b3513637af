"""The capture record: what we keep of one webhook request, and the records derived from it.

A capture record is one JSON line of ``captures/<day>.jsonl`` (docs/formats.md):
its ``id`` (a ULID, whose time is the receive time), ``received_at``, the
request's source, address, method, path, content type, user and size, and its
body exactly: as text when it is UTF-8, else base64 with ``body_encoding``.
A reject record is what the worker writes for a capture it cannot read.

Pure functions. ``body_bytes`` raises ``BodyError`` for a record whose body
cannot be undone (a hand-made or torn record); nothing else here raises for
what a record holds.
"""

import base64
import binascii
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from receiver.capture.jsonparse import preview
from receiver.core import ids, layout

DEFAULT_SOURCE = "default"
BASE64 = "base64"  # the body_encoding of a body that is not UTF-8
# Printable ASCII stays as sent (percent-escapes too); a space, a control or a non-ASCII byte is %-encoded.
QUERY_SAFE = "".join(sorted(set(string.printable) - set(string.whitespace)))


class BodyError(ValueError):
    """A record's body cannot be turned back into the bytes that were sent."""


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


def utc_ms(when: datetime | None = None) -> str:
    """Return ``when`` (default now) as ISO 8601 UTC with milliseconds and a Z: the times our records hold."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def to_record(delivery: Delivery) -> dict[str, Any]:
    """Return the JSON-safe capture record of ``delivery``; the body is kept exactly."""
    record: dict[str, Any] = {
        "id": delivery.id,
        "received_at": utc_ms(delivery.received_at),
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
        record["body_encoding"] = BASE64
    return record


def body_bytes(record: Mapping[str, Any]) -> bytes:
    """Return the exact bytes that were sent as the body of a capture record; raise ``BodyError`` if it cannot."""
    body = record.get("body")
    if not isinstance(body, str):
        raise BodyError("capture has no text body")
    if record.get("body_encoding") is None:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from a hand-made record's JSON escape
            raise BodyError("body holds a lone surrogate, which no sent byte makes") from None
    return base64_body(record, body)


def body_text(record: Mapping[str, Any]) -> str:
    """Return the body of a capture record as the text its bytes are in UTF-8; raise ``BodyError`` if it is not."""
    body = record.get("body")
    if not isinstance(body, str):
        raise BodyError("capture has no text body")
    if record.get("body_encoding") is None:
        return body  # the receiver kept a UTF-8 body as its text: no round trip
    try:
        return base64_body(record, body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not valid UTF-8 (byte {exc.start})") from None


def base64_body(record: Mapping[str, Any], body: str) -> bytes:
    """Return the bytes of a body the receiver kept as base64; raise ``BodyError`` for any other encoding."""
    encoding = record.get("body_encoding")
    if encoding != BASE64:
        raise BodyError(f"unknown body_encoding {preview(str(encoding))!r}")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise BodyError("body_encoding is base64 but the body is not valid base64") from None


def parse_line(line: bytes) -> dict[str, Any] | None:
    """Return the capture record on a captures file's ``line``, or None when it is not one (torn, not JSON, no id)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("id"), str) else None


def line_id(line: bytes) -> str | None:
    """Return the ``id`` of a capture line, or None when the line is not a capture."""
    record = parse_line(line)
    return None if record is None else record["id"]


def id_time(capture_id: str | None) -> int | None:
    """Return the millisecond time of a capture id, or None when it is not one."""
    try:
        return ids.id_time_ms(capture_id) if capture_id else None
    except ValueError:
        return None


def capture_day(capture: Any) -> str:
    """Return the UTC day the capture was received, the day of its events and reject; today when unknown.

    So reprocessing a capture always writes to the same day's files.
    """
    # Whatever the record holds: fromisoformat raises TypeError for what is not text.
    received_at: Any = capture.get("received_at") if isinstance(capture, dict) else None
    try:
        when = datetime.fromisoformat(received_at)
    except (TypeError, ValueError):
        return layout.day_name()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return layout.day_name(when)


def reject_record(capture: Any, reason: str) -> dict[str, Any]:
    """Return the reject record of ``capture``: its id, source and receive time, when, and ``reason``."""
    meta = capture if isinstance(capture, dict) else {}
    return {
        "capture_id": meta.get("id"),
        "source": meta.get("source"),
        "received_at": meta.get("received_at"),
        "rejected_at": utc_ms(),
        "reason": reason,
    }
