"""The RQ job: analyse one capture into events, write the new events or a reject.

Failure policy: bad input never raises. A capture that cannot be decoded,
normalised or encoded is written to the rejects file and the job returns
normally, so a worker never crash-loops on a poison payload. Anything else (a
bad setting, a full disk, a permission error, Redis away while routing) is
raised so RQ retries the job and finally keeps it in the FailedJobRegistry.
Without a routes file the job's only Redis call of its own is one pipelined
HINCRBY of its metrics (``receiver.metrics.tally``; skipped outside a worker,
never raised). Reprocessing a capture
yields the same event ids (its capture and position, or a guid: ``eventid``),
and events (or a reject) already written on this host are not written again
(see ``ledger``); an event with the content of another recent capture's is
written with ``repeat_of`` (``repeats``).
"""

from collections.abc import Iterable
from typing import Any

from receiver.capture.analyse import Reject, analyse_capture
from receiver.capture.record import capture_day, reject_record
from receiver.core import queues as queueing
from receiver.core.layout import EVENTS, REJECTS
from receiver.core.settings import current
from receiver.ledger import upgrade
from receiver.ledger import writer as ledger
from receiver.metrics import tally

MAX_SUMMARY_WARNINGS = 20


def unique(items: Iterable[str], limit: int = MAX_SUMMARY_WARNINGS) -> list[str]:
    """Return the first ``limit`` distinct ``items`` in order."""
    return list(dict.fromkeys(items))[:limit]


def process_capture(capture: Any) -> dict[str, Any]:
    """Process one capture record and return a JSON-safe summary of what was written."""
    settings = current()
    capture_id = capture.get("id") if isinstance(capture, dict) else None
    try:
        analysis = analyse_capture(capture, settings)
    except Reject as exc:
        written = ledger.write_once(settings, REJECTS, capture_day(capture), [reject_record(capture, exc.reason)])
        summary = {"capture_id": capture_id, "events": 0, "rejected": True, "reason": exc.reason}
        if not written:
            summary["duplicate"] = True  # rejected before, on this host
        else:
            tally.count_reject(queueing.running_job_connection(), settings.queue, exc.reason)
        return summary
    events = analysis.events
    old_ids = upgrade.aliases(events, upgrade.rule_since(settings.data_dir)) if events else None
    fresh = ledger.write_once(settings, EVENTS, capture_day(capture), events, old_ids) if events else []
    tally.count_events(
        queueing.running_job_connection(), settings.queue, fresh
    )  # only what was written: a retry counts nothing twice
    summary = {"capture_id": capture_id, "events": len(fresh), "warnings": unique(analysis.warnings)}
    if len(fresh) < len(events):
        summary["duplicates"] = len(events) - len(fresh)
    if settings.routes_path and events:
        from jobs.routing.deliver import route_capture

        # All events, not only the fresh ones: a retry after a crash must still route what it wrote before.
        # Routing queues nothing twice (job ids) and delivers nothing twice (routing.state).
        summary["routed"] = route_capture(settings, queueing.job_connection(settings), str(capture_id), events)
    return summary
