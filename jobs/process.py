"""The RQ job: analyse one capture into events, write the new events or a reject.

Failure policy: bad input never raises. A capture that cannot be decoded,
normalised or encoded is written to the rejects file and the job returns
normally, so a worker never crash-loops on a poison payload. Anything else (a
bad setting, a full disk, a permission error) is raised so RQ retries the job
and finally keeps it in the FailedJobRegistry. The job touches no Redis
itself, so a Redis outage cannot fail it half-way. Reprocessing a capture
yields the same event ids, and events (or a reject) already written on this
host are not written again (see ``ledger``).
"""
from collections.abc import Iterable
from typing import Any

from receiver.settings import load

from . import ledger
from .analyse import Reject, analyse_capture
from .sink import EVENTS_KIND, REJECTS_KIND, capture_day, reject_record

MAX_SUMMARY_WARNINGS = 20


def unique(items: Iterable[str], limit: int = MAX_SUMMARY_WARNINGS) -> list[str]:
    """Return the first ``limit`` distinct ``items`` in order."""
    return list(dict.fromkeys(items))[:limit]


def process_capture(capture: Any) -> dict[str, Any]:
    """Process one capture record and return a JSON-safe summary of what was written."""
    settings = load()
    capture_id = capture.get("id") if isinstance(capture, dict) else None
    try:
        analysis = analyse_capture(capture, settings)
    except Reject as exc:
        written = ledger.write_once(settings, REJECTS_KIND, capture_day(capture), [reject_record(capture, exc.reason)])
        summary = {"capture_id": capture_id, "events": 0, "rejected": True, "reason": exc.reason}
        if not written:
            summary["duplicate"] = True  # rejected before, on this host
        return summary
    events = analysis.events
    fresh = ledger.write_once(settings, EVENTS_KIND, capture_day(capture), events) if events else []
    summary = {"capture_id": capture_id, "events": len(fresh), "warnings": unique(analysis.warnings)}
    if len(fresh) < len(events):
        summary["duplicates"] = len(events) - len(fresh)
    return summary
