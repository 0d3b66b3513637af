"""Connect to Redis; our RQ queues, the retry policy, and enqueue-if-absent for jobs and for captures.

Every job uses the JSON serializer (never pickle). ``enqueue_jobs_absent``
queues each job whose id does not exist, in one transaction that WATCHes
those job keys: two processes racing cannot queue a job twice, and a job key
is never written without its queue entry (MULTI/EXEC is all or nothing).
``enqueue_batch_absent`` does the same for captures: one job carries the
captures no job holds yet, and each capture's ``keys.capture_job`` is written
in the transaction that queues the job, so a capture is never half-queued.
Failing jobs are retried at the configured intervals, then rest in RQ's
FailedJobRegistry. Redis errors propagate (``REDIS_ERRORS`` names them).
"""

from collections.abc import Callable, Sequence
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
# Which capture keys name a job that still exists (ARGV[1] is RQ's job key prefix): a key that outlived its
# job (expired, deleted by hand, lost by Redis) holds nothing, so the capture can be queued again.
HELD_EACH = """
local found = {}
for i, key in ipairs(KEYS) do
  local job = redis.call('GET', key)
  found[i] = (job and redis.call('EXISTS', ARGV[1] .. job) == 1) and 1 or 0
end
return found
"""
# Point each capture key at the job (ARGV[1]) for ARGV[2] seconds: one command however many captures.
SET_EACH = "for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'EX', ARGV[2]) end return #KEYS"
# A capture's key lives while its job waits (a day at most: then the audit calls it missing and requeues it);
# the worker that starts the job shortens it to the job's own life (``hold_captures``).
QUEUED_TTL = 86400
CAPTURES_PER_TIMEOUT = 100  # DUMPER_JOB_TIMEOUT is granted per this many captures of a job


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


def batch_timeout(settings: Settings, count: int) -> int:
    """Return the RQ timeout of a job of ``count`` captures: ``DUMPER_JOB_TIMEOUT`` per ``CAPTURES_PER_TIMEOUT``."""
    return max(1, round(settings.job_timeout)) * max(1, -(-count // CAPTURES_PER_TIMEOUT))


def held_for(settings: Settings, count: int) -> int:
    """Return how long a started job's capture keys live: as long as RQ may keep the job through its retries."""
    return RESULT_TTL + batch_timeout(settings, count) + round(sum(settings.retry_intervals))


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


def enqueue_batch_absent(
    queue: Queue, capture_ids: Sequence[str], build: Callable[[list[int]], Any], ttl: int = QUEUED_TTL
) -> list[int]:
    """Queue one job for the captures of ``capture_ids`` that no job holds; return their positions.

    ``build(positions)`` returns the job's data (``Queue.prepare_data``) for those positions. The capture keys
    are WATCHed from the check to the EXEC, so the check, the keys and the job are one step.
    """
    if not capture_ids:
        return []
    held = [keys.capture_job(queue.name, capture_id) for capture_id in capture_ids]
    with queue.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(*held)
                found = pipe.eval(HELD_EACH, len(held), *held, Job.redis_job_namespace_prefix)
                fresh = [position for position, exists in enumerate(found) if not exists]
                if not fresh:
                    pipe.unwatch()
                    return []
                data = build(fresh)
                pipe.multi()
                pipe.eval(SET_EACH, len(fresh), *(held[position] for position in fresh), data.job_id, ttl)
                queue.enqueue_many([data], pipeline=pipe)
                pipe.execute()
                return fresh
            except redis.WatchError:
                continue


def jobs_of(connection: redis.Redis, queue_name: str, capture_ids: Sequence[str]) -> list[str]:
    """Return the id of the job that holds each capture (its own id when no key says: an older version's job)."""
    if not capture_ids:
        return []
    found = connection.mget([keys.capture_job(queue_name, capture_id) for capture_id in capture_ids])
    return [
        (job.decode() if isinstance(job, bytes) else job) if job else capture_id
        for capture_id, job in zip(capture_ids, found)
    ]


def hold_captures(connection: redis.Redis, queue_name: str, capture_ids: Sequence[str], ttl: int) -> None:
    """Keep the capture keys of a started job for ``ttl`` seconds more (as long as RQ keeps the job)."""
    with connection.pipeline(transaction=False) as pipe:
        for capture_id in capture_ids:
            pipe.expire(keys.capture_job(queue_name, capture_id), ttl)
        pipe.execute()


def forget_capture(connection: redis.Redis, queue_name: str, capture_id: str) -> None:
    """Drop the key that says which job holds a capture, so it can be queued again (a replay)."""
    connection.delete(keys.capture_job(queue_name, capture_id))
