"""Name the routing jobs and queues, and the worker lanes: shared by the jobs, the status and the inspector.

Captures and deliveries never share a queue: the capture jobs run on
``<DUMPER_QUEUE>``, the deliveries on ``-high``, ``-default`` and ``-low``, the
delayed checks on ``-checks``. A worker's capture lane takes only the first, its
delivery lane only the others, so a sink that hangs can hold a delivery lane but
never the slot captures use. Light to import; nothing here raises.
"""

import hashlib

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from receiver.core.settings import Settings

PRIORITIES = ("high", "default", "low")  # a route's delivery priorities
CHECKS = "checks"  # the delayed checks wait on a queue of their own, so a scheduled check never reads as a retry
CHECKS_SUFFIX = f"-{CHECKS}"
DELIVERY_ORDER = ("high", CHECKS, "default", "low")  # a due check decides a hot lead: right after the high queue
CAPTURES, DELIVERIES, ALL = "captures", "deliveries", "all"
LANES = (ALL, CAPTURES, DELIVERIES)


def queue_name(settings: Settings, priority: str) -> str:
    """Return the RQ queue of a priority: ``<queue>-high``, ``-default``, ``-low`` or ``-checks``."""
    return f"{settings.queue}-{priority}"


def delivery_queue_names(settings: Settings) -> list[str]:
    """Return the queues of the delivery lane, in the order it takes jobs."""
    return [queue_name(settings, priority) for priority in DELIVERY_ORDER]


def queue_names(settings: Settings, lane: str = ALL) -> list[str]:
    """Return the queues a worker of ``lane`` listens to, in the order it takes jobs (``all``: every queue we own)."""
    captures = [settings.queue]
    if lane == CAPTURES:
        return captures
    if lane == DELIVERIES:
        return delivery_queue_names(settings)
    return captures + delivery_queue_names(settings)


def queue_for(settings: Settings, connection: redis.Redis, priority: str) -> Queue:
    """Return the queue of ``priority`` on ``connection``."""
    return Queue(queue_name(settings, priority), connection=connection, serializer=JSONSerializer)


def job_id(kind: str, *parts: str) -> str:
    """Return a job id derived from what the job does (RQ allows only ``[A-Za-z0-9_-]``)."""
    return f"{kind}-" + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
