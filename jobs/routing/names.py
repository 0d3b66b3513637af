"""Name the routing jobs and queues: shared by the jobs, the status and the inspector, light to import."""

import hashlib

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from receiver.settings import Settings

PRIORITIES = ("high", "default", "low")  # a route's delivery priorities
CHECKS = "checks"  # the delayed checks wait on a queue of their own, so a scheduled check never reads as a retry
CHECKS_SUFFIX = f"-{CHECKS}"
LISTEN_ORDER = ("high", CHECKS, "default", "low")  # a due check decides a hot lead: right after the high queue


def queue_name(settings: Settings, priority: str) -> str:
    """Return the RQ queue of a priority: ``<queue>-high``, ``<queue>``, ``<queue>-low`` or ``<queue>-checks``."""
    return settings.queue if priority == "default" else f"{settings.queue}-{priority}"


def queue_names(settings: Settings) -> list[str]:
    """Return every queue a worker listens to, in the order it takes jobs."""
    return [queue_name(settings, priority) for priority in LISTEN_ORDER]


def queue_for(settings: Settings, connection: redis.Redis, priority: str) -> Queue:
    """Return the queue of ``priority`` on ``connection``."""
    return Queue(queue_name(settings, priority), connection=connection, serializer=JSONSerializer)


def job_id(kind: str, *parts: str) -> str:
    """Return a job id derived from what the job does (RQ allows only ``[A-Za-z0-9_-]``)."""
    return f"{kind}-" + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
