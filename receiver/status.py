"""Take stock of the receiver: Redis, queue, backlog, dead letters, disk.

Used by ``GET /readyz`` and by the failure alerts. Every probe is bounded by
the Redis timeout; a probe that fails is reported, never raised.
"""
import os
import shutil
import tempfile
from datetime import datetime, timezone

from . import capture, cursor, jsonl
from .queueing import REDIS_ERRORS
from .redis_health import redis_config_warnings


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
                "first_error": first_error, "warnings": redis_config_warnings(queue.connection), "error": None}
    except REDIS_ERRORS as exc:
        return {"reachable": False, "queue_depth": None, "failed_count": None, "first_error": None,
                "warnings": [], "error": str(exc)}


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


def alert_snapshot(forwarder):
    """Return what the alert monitor needs, noting a Redis outage the idle forwarder had not seen."""
    redis_state = redis_status(forwarder.queue)
    if not redis_state["reachable"]:
        forwarder.redis_failed(redis_state["error"])
    backlog = backlog_status(forwarder.settings)
    since = forwarder.redis_down_since
    return {
        "failed_count": redis_state["failed_count"],
        "first_error": redis_state["first_error"],
        "pending_count": backlog["awaiting_enqueue"] or 0,
        "oldest_pending_age": backlog["oldest_age_seconds"],
        "redis_down_for": None if since is None else forwarder.clock() - since,
    }


def alert_observer(settings):
    """Return the forwarder's periodic check: snapshot the state and let the alert monitor decide."""
    from .alerts import AlertMonitor  # imported late: alerts pulls in smtplib, needed only here

    monitor = AlertMonitor(settings)
    return lambda forwarder: monitor.observe(alert_snapshot(forwarder))
