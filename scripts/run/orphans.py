"""Hand back a job a worker took from its queue when Redis failed before the job was done.

With several queues RQ dequeues with BLPOP, which leaves no trace: a job
popped just before Redis fails (or restarts from an AOF that kept the pop but
not what followed) is in no queue and no registry, and RQ never runs it. The
worker remembers what it popped and, once Redis answers, puts such a job back
at the front of its queue, or expires its execution so RQ's own recovery
retries it. Failure policy: Redis errors propagate to the caller, which
retries at its next recovery point; nothing else is raised.
"""

import logging

import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

log = logging.getLogger("receiver.worker")


class RememberingQueue(Queue):
    """RQ's queue, noting the last job id its dequeue popped (one worker per process uses it)."""

    popped: tuple[str, str] | None = None  # (queue name, job id)

    @classmethod
    def lpop(cls, queue_keys, timeout, connection=None):  # type: ignore[no-untyped-def]
        """Pop as RQ does, and note what was popped before anything else can fail."""
        result = super().lpop(queue_keys, timeout, connection=connection)
        if result is not None:
            key, job_id = (part.decode() if isinstance(part, bytes) else part for part in result)
            RememberingQueue.popped = (key.removeprefix(Queue.redis_queue_namespace_prefix), job_id)
        return result

    @classmethod
    def dequeue_any(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Dequeue as RQ does; forget the pop once the job is handed over (a Redis error keeps it noted)."""
        result = super().dequeue_any(*args, **kwargs)
        RememberingQueue.popped = None  # the worker holds the job now, as ``in_hand``
        return result


def put_back(connection: redis.Redis, queue: Queue, job_id: str) -> bool:
    """Push ``job_id`` at the front of ``queue`` if it is `queued` yet in no place RQ looks; return whether."""
    status = connection.hget(Job.key_for(job_id), "status")
    if status == b"queued" and connection.lpos(queue.key, job_id) is None:
        connection.lpush(queue.key, job_id)  # the front: it was the next job to run
        return True
    return False


def hand_back(connection: redis.Redis, queue_name: str, job_id: str, execution_key: str | None = None) -> str:
    """Make sure a job a failed worker held runs again; return what was done (for the log and the tests)."""
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    registry = queue.started_job_registry
    if execution_key is None:  # the start was sent, maybe applied: look for any execution of the job
        members = (m.decode() for m in connection.zrange(registry.key, 0, -1))
        keys = [m for m in members if m.startswith(f"{job_id}:")]
    else:
        keys = [execution_key]
    started = [key for key in keys if connection.zscore(registry.key, key) is not None]
    if started:
        # Expire the execution now (not when its heartbeat lapses); RQ's cleanup then retries the job,
        # or files it as a dead letter when no retry is left, exactly as for any abandoned job.
        connection.zadd(registry.key, dict.fromkeys(started, 0), xx=True)
        registry.cleanup()
        if put_back(connection, queue, job_id):
            # A failover kept the registry entry but not the job's `started` status (two writes, the
            # master died between them): RQ's cleanup skips a job that is not started and drops the entry.
            log.warning("job %s was started when Redis failed, and is queued again: put back at the front", job_id)
            return "requeued"
        log.warning("job %s was in hand when Redis failed: handed back to RQ for a retry", job_id)
        return "retried"
    if put_back(connection, queue, job_id):
        log.warning("job %s was dequeued when Redis failed: put back at the front of %s", job_id, queue_name)
        return "requeued"
    return "nothing to do"
