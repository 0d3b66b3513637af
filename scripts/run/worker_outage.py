"""Let an RQ worker live through Redis outages: note them, log them once, recover the job in hand.

Failure policy: nothing here raises a Redis error to the caller except the
wrapped RQ methods, which re-raise after noting it; waiting for Redis ends
only when it answers or the worker is asked to stop.
"""

import logging
import time

from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import as_text

from receiver import queueing
from receiver.logsafe import one_line

log = logging.getLogger("receiver.worker")
FIRST_WAIT, MAX_WAIT = 0.5, 5.0
RQ_LOGGERS = ("rq.worker", "rq.worker.base", "rq.worker.worker_classes", "rq.scheduler")
RQ_OUTAGE_MESSAGES = ("could not connect to Redis instance", "Redis connection timeout")


class Outage:
    """Log each Redis outage once, at its start and at its end."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.since = None

    def failed(self, exc):
        """Note that Redis failed; log it if this starts an outage."""
        if self.since is None:
            self.since = self.clock()
            log.error("Redis unreachable (%s): the worker waits for it and keeps its place", one_line(exc))

    def recovered(self):
        """Note that Redis answered; log the end of an outage."""
        if self.since is not None:
            log.warning("Redis answers again after %.1fs; the worker goes on", self.clock() - self.since)
            self.since = None

    def wait_for_redis(self, connection, stop):
        """Ping Redis with back-off until it answers (True) or ``stop`` is set (False)."""
        wait = FIRST_WAIT
        while not stop.is_set():
            try:
                connection.ping()
            except queueing.REDIS_ERRORS:
                stop.wait(wait)
                wait = min(wait * 2, MAX_WAIT)
                continue
            self.recovered()
            return True
        return False


class QuietOutages:
    """A log filter that drops RQ's own per-attempt outage messages: ``Outage`` reports each outage once."""

    def filter(self, record):
        """Keep every record but RQ's connection-error messages and tracebacks."""
        if any(text in str(record.msg) for text in RQ_OUTAGE_MESSAGES):
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, queueing.REDIS_ERRORS)


for _name in RQ_LOGGERS:
    logging.getLogger(_name).addFilter(QuietOutages())


# Back at the queue's head, only if the job is still `queued` and not already in the list (atomic).
PUT_BACK = """
if redis.call('HGET', KEYS[2], 'status') == 'queued' and not redis.call('LPOS', KEYS[1], ARGV[1]) then
  redis.call('LPUSH', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


class NotingQueue(Queue):
    """A Queue that remembers the job a worker popped until it starts, so it can be put back."""

    # RQ pops from several queues with BLPOP: until the job is in the started registry it is in no
    # list at all, and if Redis fails (or the worker stops) in between, nothing in RQ finds it again.
    popped: tuple[str, str] | None = None  # (queue key, job id); one worker per process

    @classmethod
    def lpop(cls, queue_keys, timeout, connection=None):
        """Put back a job popped before and never started, then pop as RQ does and remember what was popped."""
        # RQ's dequeue loop retries on a connection error by itself: the next pop is where we learn of it.
        put_back_popped(connection)
        result = super().lpop(queue_keys, timeout, connection=connection)
        if result is not None:
            NotingQueue.popped = (as_text(result[0]), as_text(result[1]))
        return result


def put_back_popped(connection):
    """Push the job popped but never started back onto its queue (kept in mind if Redis fails); never raise."""
    if NotingQueue.popped is None or connection is None:
        return
    queue_key, job_id = NotingQueue.popped
    try:
        if connection.eval(PUT_BACK, 2, queue_key, Job.key_for(job_id), job_id):
            log.warning("job %s was popped but never started: put back on its queue", job_id)
    except queueing.REDIS_ERRORS as exc:
        log.warning("could not put popped job %s back yet (%s)", job_id, one_line(exc))
        return
    NotingQueue.popped = None


class Resilient:
    """Mix into an RQ worker class: remember the job in hand and the Redis error that stopped the worker."""

    redis_failure = None
    in_hand = None  # (job id, execution composite key, queue name) of the job being executed
    outage = None
    stop_wanted = False  # SIGTERM/SIGINT reached RQ's handler: never start over after that

    def request_stop(self, signum, frame):
        """Note the stop request before RQ handles it (RQ may need Redis to do so, and Redis may be away)."""
        self.stop_wanted = True
        try:
            super().request_stop(signum, frame)
        except queueing.REDIS_ERRORS:
            self._stop_requested = True

    def noted(self, call, *args, **kwargs):
        """Run ``call``; on a Redis error, note it (and log the outage once) before re-raising."""
        try:
            result = call(*args, **kwargs)
        except queueing.REDIS_ERRORS as exc:
            self.redis_failure = exc
            if self.outage is not None:
                self.outage.failed(exc)
            raise
        return result

    def execute_job(self, job, queue):
        """Execute ``job``, remembering it until it is done."""
        self.in_hand = (job.id, None, queue.name)
        result = self.noted(super().execute_job, job, queue)
        self.in_hand = None
        return result

    def prepare_execution(self, job):
        """Prepare the execution and remember its key, for ``recover``."""
        execution = super().prepare_execution(job)
        self.in_hand = (job.id, execution.composite_key, job.origin)
        NotingQueue.popped = None  # started: RQ's own registry recovers it from here on
        return execution

    def heartbeat(self, timeout=None, pipeline=None):
        """Send RQ's heartbeat; a direct one that succeeds ends an outage RQ's dequeue loop waited out."""
        result = self.noted(super().heartbeat, timeout, pipeline)
        if self.outage is not None and pipeline is None:
            self.outage.recovered()
        return result

    def run_maintenance_tasks(self):
        """Run RQ's maintenance, noting a Redis error."""
        return self.noted(super().run_maintenance_tasks)


def recover(connection, settings, in_hand):
    """Hand the job a worker had in hand when Redis failed back to RQ's recovery now; never raise."""
    if not in_hand or in_hand[1] is None:
        return
    job_id, execution_key, queue_name = in_hand
    try:
        registry = Queue(queue_name, connection=connection, serializer=JSONSerializer).started_job_registry
        # Expire the execution now (not when its heartbeat lapses); RQ's cleanup then retries the job,
        # or files it as a dead letter when no retry is left, exactly as for any abandoned job.
        if (
            connection.zadd(registry.key, {execution_key: 0}, xx=True, ch=True)
            or connection.zscore(registry.key, execution_key) is not None
        ):
            registry.cleanup()
            log.warning("job %s was in hand when Redis failed: handed back to RQ for a retry", job_id)
        # A failover can keep the registry entry but not the job's `started` status (two writes, and the
        # master died between them): RQ's cleanup then drops the entry and leaves the job `queued` in no
        # list. Put such a job back on its queue.
        if connection.eval(PUT_BACK, 2, registry.get_queue().key, Job.key_for(job_id), job_id):
            log.warning("job %s was in hand when Redis failed, and is `queued` again: put back on its queue", job_id)
    except queueing.REDIS_ERRORS as exc:
        log.warning("could not hand job %s back at once (%s); RQ's maintenance will", job_id, one_line(exc))
