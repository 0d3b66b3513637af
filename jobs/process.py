"""The RQ job: decode one capture, normalise it to events, write events or a reject.

Failure policy: bad input never raises. A capture that cannot be decoded or
normalised is written to the rejects file and the job returns normally, so a
worker never crash-loops on a poison payload. Anything else (a bad setting,
a full disk, a permission error) is raised so RQ records the job as failed and
the capture can be re-enqueued once the cause is fixed. Reprocessing a capture
yields the same event ids and the same day file.
"""
from receiver.settings import load

from .decode import DecodeError, decode_capture
from .normalise import NormaliseError, normalise
from .sink import write_events, write_reject

MAX_SUMMARY_WARNINGS = 20


def unique(items, limit=MAX_SUMMARY_WARNINGS):
    """Return the first ``limit`` distinct ``items`` in order."""
    return list(dict.fromkeys(items))[:limit]


def process_capture(capture):
    """Process one capture record and return a JSON-safe summary of what was written."""
    settings = load()
    capture_id = capture.get("id") if isinstance(capture, dict) else None
    try:
        decoded = decode_capture(capture)
        events = normalise(decoded.value, capture, decoded.warnings)
    except (DecodeError, NormaliseError) as exc:
        write_reject(settings, capture, str(exc))
        return {"capture_id": capture_id, "events": 0, "rejected": True, "reason": str(exc)}
    write_events(settings, capture, events)
    warnings = [w for event in events for w in event["warnings"]] or decoded.warnings
    return {"capture_id": capture_id, "events": len(events), "warnings": unique(warnings)}
