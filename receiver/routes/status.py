"""Tell where a capture went and how the sinks are doing: for ``stats``, ``/readyz`` and the inspector.

Failure policy: Redis errors propagate to the caller, which reports them; a
routes file that cannot be read gives the last good one's sinks, or none.
"""

from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.core import keys
from receiver.core.keys import PRIORITIES, job_id
from receiver.core.queues import queue_for
from receiver.core.settings import Settings
from receiver.routes import config, live
from receiver.routes.sinkstate import WAITING

MAX_SCANNED = 10_000  # jobs looked at per registry when counting retries and dead letters


def job_status(connection: redis.Redis, ident: str) -> str | None:
    """Return the RQ status of job ``ident`` (queued, started, finished, failed, scheduled…), or None if gone."""
    try:
        status = Job.fetch(ident, connection=connection, serializer=JSONSerializer).get_status()
    except NoSuchJobError:
        return None
    # RQ's JobStatus is a str enum whose str() is "JobStatus.FINISHED": its value is the word.
    return str(getattr(status, "value", status))


def routes_of(settings: Settings, connection: redis.Redis | None = None) -> config.Routes | None:
    """Return the routes in force (the last good ones), or None when the file was never read good."""
    if not settings.routes_path:
        return None
    try:
        return live.current(settings.routes_path, connection, settings.queue)
    except config.RoutesError:
        return None


def deliveries_of(settings: Settings, connection: redis.Redis, capture_id: str) -> list[dict[str, Any]]:
    """Return, per sink and priority that has a delivery job for the capture, its status."""
    routes = routes_of(settings)
    found = []
    for sink in routes.sinks if routes else ():
        for priority in PRIORITIES:
            status = job_status(connection, job_id("deliver", f"{capture_id}\0{priority}", sink))
            if status is not None:
                found.append({"sink": sink, "queue": priority, "status": status})
    return found


def delivered_counts(connection: redis.Redis, queue: str) -> dict[str, int]:
    """Return how many events each sink took, from routing's count hash (``keys.sink_counts``)."""
    found: dict[str, int] = {}
    for field, value in connection.hgetall(keys.sink_counts(queue)).items():
        name, _, kind = (field.decode("utf-8", "replace") if isinstance(field, bytes) else field).rpartition(":")
        if kind == keys.DELIVERED_FIELD:
            found[name] = int(value)
    return found


def sink_counts(settings: Settings, connection: redis.Redis, with_waiting: bool = False) -> dict[str, dict[str, int]]:
    """Return per sink: events delivered, delivery jobs waiting for a retry, and dead letters.

    A delivery that waits its turn (a limit, a pause, the breaker: its meta says ``waiting``) is no retry;
    ``with_waiting`` counts those under ``waiting``.
    """
    routes = routes_of(settings)
    if routes is None:
        return {}
    counts = {name: {"delivered": 0, "retrying": 0, "dead": 0} for name in routes.sinks}
    if with_waiting:
        for each in counts.values():
            each["waiting"] = 0
    for name, delivered in delivered_counts(connection, settings.queue).items():
        if name in counts:
            counts[name]["delivered"] = delivered
    for priority in PRIORITIES:
        queue = queue_for(settings, connection, priority)
        for registry, what in ((queue.scheduled_job_registry, "retrying"), (queue.failed_job_registry, "dead")):
            ids = [i for i in registry.get_job_ids(0, MAX_SCANNED - 1) if i.startswith("deliver-")]
            for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer):
                owner = job.meta.get("sink") if job is not None else None
                if job is None or owner not in counts:
                    continue
                if what == "retrying" and job.meta.get(WAITING):  # not a retry: it waits its turn
                    if with_waiting:
                        counts[owner][WAITING] += 1
                    continue
                counts[owner][what] += 1
    return counts
