"""Take stock of the receiver: Redis, queue, backlog, dead letters, disk.

Used by ``GET /readyz`` and by the failure alerts. Every probe is bounded by
the Redis timeout; a probe that fails is reported, never raised.
"""
import os
import shutil
import tempfile
from datetime import datetime, timezone

import redis

from . import capture, cursor, jsonl

REDIS_ERRORS = (redis.RedisError, OSError)


def disk_status(settings):
    """Return whether the captures directory takes a write, and its free bytes."""
    try:
        directory = jsonl.ensure_dir(os.path.join(jsonl.ensure_dir(settings.data_dir), capture.KIND))
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
        free = shutil.disk_usage(directory).free
        return {"writable": True, "free_bytes": free, "error": None}
    except OSError as exc:
        return {"writable": False, "free_bytes": None, "error": str(exc)}


def redis_status(queue):
    """Return Redis reachability, queue depth and the dead letters (count and first error)."""
    try:
        queue.connection.ping()
        failed = queue.failed_job_registry
        first_error = None
        failed_ids = failed.get_job_ids(0, 0)
        if failed_ids:
            first_error = describe_failure(queue, failed_ids[0])
        return {"reachable": True, "queue_depth": queue.count, "failed_count": failed.count,
                "first_error": first_error, "error": None}
    except REDIS_ERRORS as exc:
        return {"reachable": False, "queue_depth": None, "failed_count": None, "first_error": None,
                "error": str(exc)}


def describe_failure(queue, job_id):
    """Return ``"<job id>: <last line of its exception>"``."""
    job = queue.fetch_job(job_id)
    result = job.latest_result() if job else None
    text = (getattr(result, "exc_string", None) or "").strip().splitlines()
    return f"{job_id}: {text[-1] if text else 'no error recorded'}"


def backlog_status(settings):
    """Return how many captures wait on disk for the queue, and the age in seconds of the oldest."""
    try:
        count, oldest = cursor.pending(settings.data_dir, cursor.load(settings.data_dir))
    except (OSError, ValueError) as exc:
        return {"awaiting_enqueue": None, "oldest_age_seconds": None, "error": str(exc)}
    age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest else None
    return {"awaiting_enqueue": count, "oldest_age_seconds": age, "error": None}


def snapshot(settings, queue):
    """Return everything the readiness check and the alerts need, as JSON-safe values."""
    disk = disk_status(settings)
    state = {"redis": redis_status(queue), "disk": disk, "backlog": backlog_status(settings)}
    state["ready"] = bool(state["redis"]["reachable"] and disk["writable"]
                          and disk["free_bytes"] >= settings.min_free_bytes)
    return state
