"""Let an RQ worker live through Redis outages: note them, log them once, recover the job in hand.

Failure policy: nothing here raises a Redis error to the caller except the
wrapped RQ methods, which re-raise after noting it; waiting for Redis ends
only when it answers or the worker is asked to stop.
"""

import logging
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.client import Pipeline
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.worker import BaseWorker

from jobs.worker import pops
from jobs.worker.pops import RememberingQueue, hand_back
from receiver.core import queues as queueing
from receiver.core.logsafe import one_line
from receiver.core.settings import Settings

T = TypeVar("T")
# A mixin of RQ's workers: mypy checks it against their base class, at run time it adds nothing to the MRO.
if TYPE_CHECKING:
    _Worker = BaseWorker
else:
    _Worker = object

log = logging.getLogger("receiver.worker")
FIRST_WAIT, MAX_WAIT = 0.5, 5.0
PUBSUB_STOP_WAIT = 1.0  # how long a stopping worker waits for RQ's pubsub thread; it is a daemon
RQ_LOGGERS = ("rq.worker", "rq.worker.base", "rq.worker.worker_classes", "rq.scheduler")
RQ_OUTAGE_MESSAGES = ("could not connect to Redis instance", "Redis connection timeout")


class Outage:
    """Log each Redis outage once, at its start and at its end."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.since: float | None = None

    def failed(self, exc: BaseException) -> None:
        """Note that Redis failed; log it if this starts an outage."""
        if self.since is None:
            self.since = self.clock()
            log.error("Redis unreachable (%s): the worker waits for it and keeps its place", one_line(exc))

    def recovered(self) -> None:
        """Note that Redis answered; log the end of an outage."""
        if self.since is not None:
            log.warning("Redis answers again after %.1fs; the worker goes on", self.clock() - self.since)
            self.since = None

    def wait_for_redis(self, connection: redis.Redis, stop: threading.Event) -> bool:
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


class QuietOutages(logging.Filter):
    """A log filter that drops RQ's own per-attempt outage messages: ``Outage`` reports each outage once."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but RQ's connection-error messages and tracebacks."""
        if any(text in str(record.msg) for text in RQ_OUTAGE_MESSAGES):
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, queueing.REDIS_ERRORS)


for _name in RQ_LOGGERS:
    logging.getLogger(_name).addFilter(QuietOutages())


InHand = tuple[str, str | None, str]  # (job id, execution composite key or None, queue name)


class Resilient(_Worker):
    """Mix into an RQ worker class: remember the job in hand and the Redis error that stopped the worker."""

    redis_failure: BaseException | None = None
    in_hand: InHand | None = None  # the job being executed
    outage: Outage | None = None
    stop_wanted = False  # SIGTERM/SIGINT reached RQ's handler: never start over after that

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Note the stop request before RQ handles it (RQ may need Redis to do so, and Redis may be away)."""
        self.stop_wanted = True
        try:
            super().request_stop(signum, frame)
        except queueing.REDIS_ERRORS:
            self._stop_requested = True

    def noted(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``call``; on a Redis error, note it (and log the outage once) before re-raising."""
        try:
            result = call(*args, **kwargs)
        except queueing.REDIS_ERRORS as exc:
            self.redis_failure = exc
            if self.outage is not None:
                self.outage.failed(exc)
            raise
        return result

    def execute_job(self, job: Job, queue: Queue) -> Any:
        """Execute ``job``, remembering it until it is done."""
        self.in_hand = (job.id, None, queue.name)
        RememberingQueue.popped = None  # in hand now: ``in_hand`` covers it
        result = self.noted(super().execute_job, job, queue)
        self.in_hand = None
        return result

    def prepare_execution(self, job: Job) -> Execution:
        """Prepare the execution and remember its key, for ``recover``."""
        execution = super().prepare_execution(job)
        self.in_hand = (job.id, execution.composite_key, job.origin)
        self.noted(pops.started, self.connection, job.origin, job.id, RememberingQueue.worker_name)
        return execution

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> Any:
        """Send RQ's heartbeat; a direct one that succeeds ends an outage RQ's dequeue loop waited out."""
        result = self.noted(super().heartbeat, timeout, pipeline)
        if self.outage is not None and pipeline is None:
            self.outage.recovered()
        if RememberingQueue.popped is not None and pipeline is None:
            # RQ's dequeue loop got over an outage that struck between a pop and its job's start
            queue_name, job_id = RememberingQueue.popped
            hand_back(self.connection, queue_name, job_id)
            RememberingQueue.popped = None
        return result

    def unsubscribe(self) -> None:
        """Unsubscribe as RQ does, waiting at most ``PUBSUB_STOP_WAIT`` for its pubsub thread to end.

        RQ stops redis-py's thread with no time limit; a thread that read the
        unsubscribe reply first then waits 60 s to be subscribed again, so a
        stopped worker hung for up to a minute (1 stop in 6, measured) and a
        supervisor that gives it 35 s killed it.
        """
        thread = getattr(self, "pubsub_thread", None)
        if thread is not None:
            stop = thread.stop
            thread.stop = lambda timeout=PUBSUB_STOP_WAIT: stop(timeout)
        super().unsubscribe()

    def run_maintenance_tasks(self) -> None:
        """Run RQ's maintenance and put back jobs whose worker died between pop and start, noting a Redis error."""
        self.noted(super().run_maintenance_tasks)
        self.noted(pops.sweep, self.connection)


def popped_in_hand() -> InHand | None:
    """Return the job the worker popped and never started, as ``in_hand`` would hold it, and forget it."""
    if RememberingQueue.popped is None:
        return None
    queue_name, job_id = RememberingQueue.popped
    RememberingQueue.popped = None
    return (job_id, None, queue_name)


def recover(connection: redis.Redis, settings: Settings, in_hand: InHand | None) -> None:
    """Hand the job a worker had in hand (or had just popped) when Redis failed back to RQ now; never raise."""
    if not in_hand:
        return
    job_id, execution_key, queue_name = in_hand
    try:
        hand_back(connection, queue_name, job_id, execution_key)
    except queueing.REDIS_ERRORS as exc:
        log.warning("could not hand job %s back at once (%s); RQ's maintenance will", job_id, one_line(exc))
