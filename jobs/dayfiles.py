"""Name the daily files a capture's events and rejects go to, and shape a reject record.

The file day is the capture's ``received_at`` UTC date, so reprocessing a
capture always writes to the same day's file; a capture without a readable
``received_at`` uses today's date. ``ledger.write_once`` does the writing.
Nothing here raises.
"""

from datetime import UTC, datetime
from typing import Any

from receiver.core.layout import EVENTS, REJECTS, day_name

EVENTS_KIND = EVENTS
REJECTS_KIND = REJECTS
REJECT_FIELDS = ("capture_id", "source", "received_at", "rejected_at", "reason")
TIMESTAMP_SPEC = "milliseconds"
UTC_SUFFIX = "Z"


def utc_stamp(when: datetime | None = None) -> str:
    """Return ``when`` (default now) as ISO 8601 UTC with milliseconds and a ``Z``."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.replace(tzinfo=None).isoformat(timespec=TIMESTAMP_SPEC) + UTC_SUFFIX


def capture_day(capture: Any) -> str:
    """Return the ``YYYY-MM-DD`` UTC day the capture was received, or today when unknown."""
    # Whatever the record holds: fromisoformat raises TypeError for what is not text.
    received_at: Any = capture.get("received_at") if isinstance(capture, dict) else None
    try:
        when = datetime.fromisoformat(received_at)
    except (TypeError, ValueError):
        return day_name()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return day_name(when)


def reject_record(capture: Any, reason: str) -> dict[str, Any]:
    """Return the reject record for ``capture`` with ``reason``."""
    meta = capture if isinstance(capture, dict) else {}
    return {
        "capture_id": meta.get("id"),
        "source": meta.get("source"),
        "received_at": meta.get("received_at"),
        "rejected_at": utc_stamp(),
        "reason": reason,
    }
