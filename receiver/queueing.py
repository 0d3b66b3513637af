"""Connect to Redis and hand captures to RQ.

Every job uses the JSON serializer (never pickle) and the capture id as its
job id, so a capture is one job and its id says where it came from.
"""
import redis
from rq import Queue
from rq.serializers import JSONSerializer

JOB_FUNCTION = "jobs.process.process_capture"
JOB_TIMEOUT = 300
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


def enqueue_capture(queue, capture):
    """Enqueue one job that processes ``capture``; its job id is the capture id."""
    return queue.enqueue(
        JOB_FUNCTION,
        args=(capture,),
        job_id=capture["id"],
        job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL,
        description=f"capture {capture['id']} from {capture['source']}",
    )
