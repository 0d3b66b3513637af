"""Tell where a capture went: waiting on disk, queued, processed, a dead letter; and its sinks.

The forwarder hands captures to RQ in file order, so a capture still after
its cursor is waiting on disk. Otherwise the RQ job that holds it (``queues.jobs_of``)
says the rest; a job that is gone was processed more than ``RESULT_TTL``
ago (RQ forgets finished jobs), or was removed by hand. Failure policy: a
Redis that does not answer makes the state "unknown", never an error page.
"""

import os
from typing import Any

import redis

from receiver.core import layout
from receiver.core.lines import read_complete
from receiver.core.queues import REDIS_ERRORS, RESULT_TTL, jobs_of
from receiver.core.settings import Settings
from receiver.forwarder import cursor as cursor_mod
from receiver.forwarder.backlog import PENDING_SCAN_BYTES
from receiver.routes.status import deliveries_of, job_status
from receiver.store.select import id_day

WAITING = "waiting on disk"
STATES = {
    "queued": ("queued", "in the queue, waiting for a worker"),
    "started": ("processing", "a worker is processing it now"),
    "finished": ("processed", "a worker turned it into events (or a reject)"),
    "scheduled": ("retrying", "it failed and waits for a retry"),
    "failed": ("dead letter", "it failed every retry: see smartech-dumper failed show ID"),
    "deferred": ("deferred", "RQ holds it until another job finishes"),
    "stopped": ("stopped", "a worker was stopped while processing it"),
    "canceled": ("cancelled", "someone cancelled its job"),
}


def waiting_on_disk(data_dir: str, capture_id: str) -> bool:
    """Say whether the forwarder has not yet handed the capture to the queue."""
    cursor = cursor_mod.load(data_dir)
    day = id_day(capture_id)
    if cursor is None:
        return os.path.exists(layout.day_path(data_dir, layout.CAPTURES, day))  # the forwarder never ran
    if day != cursor.day:
        return day > cursor.day
    rest = read_complete(layout.day_path(data_dir, layout.CAPTURES, day), cursor.offset, PENDING_SCAN_BYTES)
    return f'"id":"{capture_id}"'.encode() in rest


def where(settings: Settings, connection: redis.Redis, capture_id: str) -> dict[str, Any]:
    """Return ``{"state", "detail", "job_status", "sinks"}`` for one capture."""
    try:
        if waiting_on_disk(settings.data_dir, capture_id):
            return {
                "state": WAITING,
                "detail": "the forwarder has not handed it to the queue yet",
                "job_status": None,
                "sinks": [],
            }
    except (OSError, ValueError):
        pass  # the cursor or the file cannot be read: the queue still knows
    try:
        status = job_status(connection, jobs_of(connection, settings.queue, [capture_id])[0])
        sinks = deliveries_of(settings, connection, capture_id)
    except REDIS_ERRORS:
        return {"state": "unknown", "detail": "Redis did not answer", "job_status": None, "sinks": []}
    if status is None:
        detail = f"handed to the queue; its job is gone (RQ forgets a processed job after {RESULT_TTL // 60} minutes)"
        return {"state": "handed over", "detail": detail, "job_status": None, "sinks": sinks}
    state, detail = STATES.get(status, (status, "RQ's own status"))
    return {"state": state, "detail": detail.replace("ID", capture_id), "job_status": status, "sinks": sinks}
