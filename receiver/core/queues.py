"""Connect to Redis; our RQ queues, the retry policy, and enqueue-if-absent for any job.

Every job uses the JSON serializer (never pickle). ``enqueue_jobs_absent``
queues each job whose id does not exist, in one transaction that WATCHes
those job keys: two processes racing cannot queue a job twice, and a job key
is never written without its queue entry (MULTI/EXEC is all or nothing).
Failing jobs are retried at the configured intervals, then rest in RQ's
FailedJobRegistry. Redis errors propagate (``REDIS_ERRORS`` names them).
"""

from datetime import datetime
from typing import Any

import redis
from redis.sentinel import Sentinel
from rq import Queue, Retry, get_current_job
from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.core import keys
from receiver.core.settings import Settings

# What "Redis did not take it" looks like: server errors, timeouts, refused or broken sockets.
REDIS_ERRORS = (redis.RedisError, OSError)
RESULT_TTL = 3600
# One round trip for "which of these job keys exist?", on the connection that WATCHes them.
EXISTS_EACH = "local found = {} for i, key in ipairs(KEYS) do found[i] = redis.call('EXISTS', key) end return found"


def connect(settings: Settings, blocking: bool = False, read_timeout: float | None = None) -> redis.Redis:
    """Return a Redis client that fails fast when Redis is away: ``REDIS_URL``'s, or the master the sentinels name.

    A worker passes ``blocking=True``: its dequeue waits on Redis by design, so
    reads are bounded by ``read_timeout`` (None: not at all), connecting by the
    Redis timeout. Through Sentinel, each new connection asks the sentinels for
    the current master, so a failover needs no restart: the connections to the
    old master fail, and the next ones reach the new one.
    """
    socket_timeout = read_timeout if blocking else settings.redis_timeout
    if not settings.redis_sentinels:
        return redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=settings.redis_timeout, socket_timeout=socket_timeout
        )
    # REDIS_URL's host and port give way to the sentinels; its password and database still apply.
    parts = redis.connection.parse_url(settings.redis_url)
    sentinel_options: dict[str, Any] = {"socket_timeout": settings.redis_timeout}
    if settings.redis_sentinel_password:
        sentinel_options["password"] = settings.redis_sentinel_password
    sentinel = Sentinel(
        list(settings.redis_sentinels),
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        sentinel_kwargs=sentinel_options,
    )
    return sentinel.master_for(
        settings.redis_sentinel_master,
        socket_timeout=socket_timeout,
        socket_connect_timeout=settings.redis_timeout,
        password=parts.get("password"),
        db=parts.get("db", 0),
    )


def get_queue(settings: Settings, connection: redis.Redis | None = None) -> Queue:
    """Return the RQ queue named by the settings, with the JSON serializer."""
    return Queue(settings.queue, connection=connection or connect(settings), serializer=JSONSerializer)


def queue_for(settings: Settings, connection: redis.Redis, priority: str) -> Queue:
    """Return routing's queue of ``priority`` (``keys.PRIORITIES`` or ``keys.CHECKS``) on ``connection``."""
    return Queue(keys.queue_name(settings.queue, priority), connection=connection, serializer=JSONSerializer)


def running_job_connection() -> redis.Redis | None:
    """Return the Redis connection of the RQ job running in this process; None outside a job."""
    job = get_current_job()
    return job.connection if job is not None else None


def job_connection(settings: Settings) -> redis.Redis:
    """Return the Redis connection of the RQ job running in this process, or a new one outside a job."""
    return running_job_connection() or connect(settings)


def retry_policy(settings: Settings) -> Retry | None:
    """Return RQ's Retry for the configured intervals, or None when there are none."""
    intervals = [max(1, round(seconds)) for seconds in settings.retry_intervals]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def enqueue_jobs_absent(queue: Queue, jobs: list[Any], at: datetime | None = None) -> int:
    """Queue (or, with ``at``, schedule) each job of ``jobs`` (``Queue.prepare_data``) whose id does not exist.

    One transaction WATCHes the job keys, so the check and the enqueue are atomic; return how many were queued.
    """
    if not jobs:
        return 0
    keys = [Job.key_for(job.job_id) for job in jobs]
    with queue.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(*keys)  # any change to these keys before EXEC aborts it, and we look again
                found = pipe.eval(EXISTS_EACH, len(keys), *keys)
                fresh = [job for job, exists in zip(jobs, found) if not exists]
                pipe.multi()
                if fresh and at is None:
                    queue.enqueue_many(fresh, pipeline=pipe)
                elif fresh and at is not None:
                    for data in fresh:
                        job = queue.create_job(
                            data.func,
                            args=data.args,
                            kwargs=data.kwargs,
                            timeout=data.timeout,
                            result_ttl=data.result_ttl,
                            description=data.description,
                            job_id=data.job_id,
                            meta=data.meta,
                            retry=data.retry,
                        )
                        queue.schedule_job(job, at, pipeline=pipe)
                pipe.execute()
                return len(fresh)
            except redis.WatchError:
                continue
