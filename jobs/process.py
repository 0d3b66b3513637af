"""The RQ job: decode one capture, normalise it to events, write new events or a reject.

Failure policy: bad input never raises. A capture that cannot be decoded or
normalised is written to the rejects file and the job returns normally, so a
worker never crash-loops on a poison payload. Anything else (a bad setting,
a full disk, a permission error, Redis going away) is raised so RQ retries
the job and finally keeps it in the FailedJobRegistry. Reprocessing a capture
yields the same event ids, and events already written are not written again.
"""
from rq import get_current_job

from receiver import queueing
from receiver.settings import load

from . import dedup
from .analyse import Reject, analyse_capture
from .sink import write_events, write_reject

MAX_SUMMARY_WARNINGS = 20


def unique(items, limit=MAX_SUMMARY_WARNINGS):
    """Return the first ``limit`` distinct ``items`` in order."""
    return list(dict.fromkeys(items))[:limit]


def redis_connection(settings):
    """Return the running job's Redis connection, or a new one outside a worker."""
    job = get_current_job()
    return job.connection if job is not None else queueing.connect(settings)


def process_capture(capture):
    """Process one capture record and return a JSON-safe summary of what was written."""
    settings = load()
    capture_id = capture.get("id") if isinstance(capture, dict) else None
    try:
        analysis = analyse_capture(capture, settings)
    except Reject as exc:
        write_reject(settings, capture, exc.reason)
        return {"capture_id": capture_id, "events": 0, "rejected": True, "reason": exc.reason}
    events = analysis.events
    connection = redis_connection(settings)
    fresh = dedup.new_events(connection, settings, events)
    write_events(settings, capture, fresh)
    dedup.mark_seen(connection, settings, fresh)
    warnings = analysis.warnings
    summary = {"capture_id": capture_id, "events": len(fresh), "warnings": unique(warnings)}
    if len(fresh) < len(events):
        summary["duplicates"] = len(events) - len(fresh)
    return summary
