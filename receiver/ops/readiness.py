"""Take stock of the receiver: Redis, queue, retries, dead letters, backlog, forwarder, disk; refused posts, the books.

Used by ``GET /readyz`` and by the failure alerts. Every probe is bounded by
the Redis timeout, reads at most ``backlog.PENDING_SCAN_BYTES`` of captures,
and is reported, never raised. Reports hold counts and ages, never error
texts: ``/readyz`` is open to monitors, and an error text can quote a payload
or a path; the details go to the log. ``Readiness`` caches the snapshot for
``CACHE_SECONDS``, so a flood of probes costs one snapshot a second.
"""

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rq import Queue

from receiver.core import jsonl, keys, layout
from receiver.core.queues import REDIS_ERRORS
from receiver.core.settings import Settings
from receiver.forwarder import backlog, heartbeat, sources, torn
from receiver.ops import quarantine, watch
from receiver.ops.redis_health import redis_config_warnings

log = logging.getLogger("receiver.status")
CACHE_SECONDS = 1.0
FORWARDER_STALE_AFTER = 15.0  # a live forwarder beats every second, or every 2 s of back-off


def disk_status(settings: Settings) -> dict[str, Any]:
    """Return whether the captures directory takes a write, and its free bytes."""
    try:
        directory = jsonl.ensure_dir(os.path.join(jsonl.ensure_dir(settings.data_dir), layout.CAPTURES))
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
        return {"writable": True, "free_bytes": shutil.disk_usage(directory).free}
    except OSError as exc:
        log.warning("readiness: the captures directory takes no write: %s", exc)
        return {"writable": False, "free_bytes": None}


def redis_status(queue: Queue) -> dict[str, Any]:
    """Return Redis reachability, and over the capture queue and its -high, -default, -low and -checks
    siblings: depth per queue, jobs waiting for a retry, delayed checks waiting to run, and dead letters."""
    try:
        queue.connection.ping()
        queues = [
            Queue(name, connection=queue.connection, serializer=queue.serializer)
            for name in keys.queue_names(queue.name)
        ]
        depths = {each.name: each.count for each in queues}
        checks = next(each for each in queues if each.name == keys.queue_name(queue.name, keys.CHECKS))
        scheduled = sum(each.scheduled_job_registry.count for each in queues if each is not checks)
        waiting = int(queue.connection.zcard(keys.waiting_deliveries(queue.name)))  # scheduled, yet no retries
        return {
            "reachable": True,
            "queue_depth": sum(depths.values()),
            "queues": depths,
            # a check is scheduled by design, not after a failure: only the other queues' schedules are retries
            "retrying": max(0, scheduled - waiting),
            "checks_scheduled": checks.scheduled_job_registry.count,
            "deliveries_waiting": waiting,
            "failed_count": sum(each.failed_job_registry.count for each in queues),
            "warnings": redis_config_warnings(queue.connection),
        }
    except REDIS_ERRORS as exc:
        log.warning("readiness: Redis unreachable: %s", exc)
        return {
            "reachable": False,
            "queue_depth": None,
            "queues": None,
            "retrying": None,
            "checks_scheduled": None,
            "deliveries_waiting": None,
            "failed_count": None,
            "warnings": [],
        }


def backlog_status(settings: Settings) -> dict[str, Any]:
    """Return how many captures wait on disk for the queue, the age of the oldest, and the torn lines.

    Each figure is read on its own, so one unreadable file hides only its own figure (None).
    """
    count: int | None
    try:
        count, oldest = backlog.pending(settings.data_dir)
    except (OSError, ValueError) as exc:
        log.warning("readiness: cannot read the backlog: %s", exc)
        count = oldest = None
    try:
        kept = torn.count(settings.data_dir)
    except OSError as exc:
        log.warning("readiness: cannot count the torn lines: %s", exc)
        kept = None
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest else None
    return {"awaiting_enqueue": count, "oldest_age_seconds": age, "torn_lines": kept}


def forwarder_status(settings: Settings) -> dict[str, Any]:
    """Return the age of the forwarder's last heartbeat (None if it never beat), whether it lives, and its Redis."""
    age, down_since = heartbeat.read(settings.data_dir)
    alive = age is not None and age < FORWARDER_STALE_AFTER
    return {
        "enabled": settings.forwarder,
        "heartbeat_age_seconds": age,
        "alive": alive,
        "redis_down_seconds": max(0.0, time.time() - down_since) if alive and down_since else None,
    }


def sinks_status(settings: Settings, queue: Queue) -> dict[str, Any] | None:
    """Return per sink of the routes file: events delivered, deliveries retrying, waiting, dead; paused, breaker."""
    from receiver.routes import sinkstate
    from receiver.routes.status import sink_counts  # only with a routes file

    try:
        counts: dict[str, Any] = sink_counts(settings, queue.connection, with_waiting=True)
        for name, state in sinkstate.states(queue.connection, settings.queue, list(counts)).items():
            counts[name].update(paused=state["paused"], breaker="open" if state["breaker"]["open"] else "closed")
        return counts
    except REDIS_ERRORS as exc:
        log.warning("readiness: cannot count the sinks' deliveries: %s", exc)
        return None


def routes_status(settings: Settings, queue: Queue) -> dict[str, Any] | None:
    """Return the problems with the routes file met here or by any worker: kind and age, never the error text."""
    from receiver.routes import live, status

    try:
        status.routes_of(settings, queue.connection)  # this host's own look at the file, recorded if bad
        found = live.recorded(queue.connection, settings.queue)
    except REDIS_ERRORS as exc:
        log.warning("readiness: cannot read the routes problems: %s", exc)
        return None
    now = time.time()
    return {
        "ok": not found,
        "problems": [{"kind": each["kind"], "age_seconds": max(0.0, now - each["since"])} for each in found],
    }


def quarantine_status(settings: Settings) -> dict[str, Any] | None:
    """Return the posts refused for their credentials and kept: posts, bytes, recent, newest's age (None: off)."""
    if not settings.quarantine:
        return None
    try:
        return quarantine.summary(settings.data_dir, time.time())
    except OSError as exc:
        log.warning("readiness: cannot read the quarantine: %s", exc)
        return {"posts": None, "bytes": None, "recent": None, "newest_age_seconds": None}


def snapshot(settings: Settings, queue: Queue) -> dict[str, Any]:
    """Return everything the readiness check and the alerts need, as JSON-safe values."""
    disk = disk_status(settings)
    state: dict[str, Any] = {
        "redis": redis_status(queue),
        "disk": disk,
        "backlog": backlog_status(settings),
        "forwarder": forwarder_status(settings),
    }
    if settings.routes_path:
        state["sinks"] = sinks_status(settings, queue) if state["redis"]["reachable"] else None
        state["routes"] = routes_status(settings, queue) if state["redis"]["reachable"] else None
    if state["redis"]["reachable"]:
        ages = sources.last_seen(queue.connection, settings.queue, time.time())
        state["sources"] = {
            "last_capture_age_seconds": ages,
            "silent": sorted(sources.silent(ages, settings.silence_after)),
        }
    # Warnings, not unreadiness: a refused post or a hole in the books is mailed and graphed, and the webhook
    # must keep answering Smartech meanwhile.
    state["quarantine"] = quarantine_status(settings)
    state["audit"] = watch.counts(settings, time.time())
    state["ready"] = bool(
        state["redis"]["reachable"]
        and disk["writable"]
        and disk["free_bytes"] >= settings.min_free_bytes
        and (state["forwarder"]["alive"] or not settings.forwarder)
    )
    return state


class Readiness:
    """Serve the snapshot from a cache that one caller at a time refreshes."""

    def __init__(
        self,
        settings: Settings,
        queue: Queue,
        max_age: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.queue, self.max_age, self.clock = settings, queue, max_age, clock
        self.lock = threading.Lock()
        self.state: dict[str, Any] | None = None
        self.taken_at = 0.0  # when ``state`` was taken; read only once there is one

    def get(self) -> dict[str, Any]:
        """Return a snapshot at most ``max_age`` old; others keep the last one while one caller refreshes."""
        if self.state is not None and self.clock() - self.taken_at < self.max_age:
            return self.state
        if not self.lock.acquire(blocking=self.state is None):
            assert self.state is not None  # only a caller that found a snapshot is refused the lock
            return self.state
        try:
            if self.state is None or self.clock() - self.taken_at >= self.max_age:
                self.state, self.taken_at = snapshot(self.settings, self.queue), self.clock()
            return self.state
        finally:
            self.lock.release()
