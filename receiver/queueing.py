"""Connect to Redis and hand captures to RQ.

Every job uses the JSON serializer (never pickle) and the capture id as its
job id, so a capture handed over twice (after a crash, a replay) is queued
once while its job exists: one at a time with RQ's unique jobs, or in
batches that skip the ids whose job exists (checked in the same two round
trips). Failing jobs are retried at the configured intervals, then rest in
RQ's FailedJobRegistry.
"""
import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.serializers import JSONSerializer

JOB_FUNCTION = "jobs.process.process_capture"
# What "Redis did not take it" looks like: server errors, timeouts, refused or broken sockets.
REDIS_ERRORS = (redis.RedisError, OSError)
RESULT_TTL = 3600


def connect(settings, blocking=False):
    """Return a Redis client for ``settings.redis_url`` that fails fast when Redis is away.

    A worker passes ``blocking=True``: its dequeue waits on Redis for minutes by
    design, so only connecting is bounded, not reading.
    """
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=settings.redis_timeout,
        socket_timeout=None if blocking else settings.redis_timeout,
    )


def get_queue(settings, connection=None):
    """Return the RQ queue named by the settings, with the JSON serializer."""
    return Queue(settings.queue, connection=connection or connect(settings), serializer=JSONSerializer)


def retry_policy(settings):
    """Return RQ's Retry for the configured intervals, or None when there are none."""
    intervals = [max(1, round(seconds)) for seconds in settings.retry_intervals]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def job_options(capture, settings):
    """Return the keyword arguments of the job that processes ``capture``."""
    return {
        "job_id": capture["id"],
        "timeout": max(1, round(settings.job_timeout)),
        "result_ttl": RESULT_TTL,
        "retry": retry_policy(settings),
        "description": f"capture {capture['id']} from {capture.get('source')}",
    }


def enqueue_capture(queue, capture, settings):
    """Enqueue the job that processes ``capture``; return False if that job already exists."""
    options = job_options(capture, settings)
    options["job_timeout"] = options.pop("timeout")  # enqueue() names it job_timeout, prepare_data() timeout
    try:
        queue.enqueue(JOB_FUNCTION, args=(capture,), unique=True, **options)
    except DuplicateJobError:
        return False
    return True


def enqueue_captures(queue, captures, settings):
    """Enqueue the jobs of ``captures`` in two round trips, skipping ids whose job exists; return the count."""
    captures = list({capture["id"]: capture for capture in captures}.values())
    with queue.connection.pipeline(transaction=False) as pipe:
        for capture in captures:
            pipe.exists(Job.key_for(capture["id"]))
        exists = pipe.execute()
    fresh = [capture for capture, found in zip(captures, exists) if not found]
    if fresh:
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many([Queue.prepare_data(JOB_FUNCTION, args=(capture,), **job_options(capture, settings))
                                for capture in fresh], pipeline=pipe)
            pipe.execute()
    return len(fresh)
