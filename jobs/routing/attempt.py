"""One run of a delivery job: the sink's pause, breaker and limits first, then the sink, then what its answer means.

A delivery that may not go now **waits its turn**: a paused sink, an open
breaker (one probe at a time goes through), a full ``concurrency``, a
``rate`` slot or a Retry-After more than ``INLINE_WAIT`` away. It returns
RQ's ``Retry`` (``Retry`` returned, not raised: RQ reschedules the same job
at that interval and leaves its failure retries alone), noting why in the
job's meta (``waiting``) for ``undelivered``; a shorter wait is slept here.
So a wait never fails, never spends a retry, never ends in the dead letters.

Failure policy: a ``Permanent`` failure goes to the dead letters with no retry;
a ``Retryable`` one counts against the breaker and raises, so RQ retries it on
the sink's schedule, unless the breaker is open: then it waits for the next
probe instead. A 429 or 503 with Retry-After holds the sink that long
(capped by ``DUMPER_RETRY_AFTER_MAX``) and spends a retry only once the
throttling has lasted as long as the schedule's next interval. Redis errors
propagate, so RQ retries the job.
"""

import math
import time
from typing import Any, NoReturn

import redis
from rq import Retry

from jobs.routing import gates, sinks, state
from receiver.core import keys
from receiver.core.settings import Settings
from receiver.metrics import tally
from receiver.routes import sinkstate
from receiver.routes.config import Sink

INLINE_WAIT = 1.0  # a wait this short is slept in the job; a longer one reschedules it
CONCURRENCY_WAIT = 1.0  # how long a delivery waits for a free place before it looks again
PAUSED_RECHECK = 10.0  # how long a delivery to a paused sink waits before it looks again (resume sends at once)
STALE_WAIT = 86400.0  # a waiting job wakes well within this; an entry older is of a job deleted meanwhile
WAIT_FOREVER = 2**31 - 1  # RQ's Retry max: a wait is never a failure, however often it comes
BREAKER, CONCURRENCY, RATE, RETRY_AFTER = "breaker open", "concurrency limit", "rate", "Retry-After"
PAUSED, WAITING, LAST_ANSWER = sinkstate.PAUSED, sinkstate.WAITING, sinkstate.LAST_ANSWER  # what undelivered reads
THROTTLED_SINCE = "throttled_since"  # the job meta: since when its sink throttles it


class Waiting(Exception):
    """The delivery may not go now: ``reason``, for ``seconds``."""

    def __init__(self, reason: str, seconds: float):
        super().__init__(f"waits {seconds:.1f}s: {reason}")
        self.reason, self.seconds = reason, seconds


def wait_for(reason: str, seconds: float) -> None:
    """Sleep a wait of up to ``INLINE_WAIT``; raise ``Waiting`` for a longer one."""
    if seconds > INLINE_WAIT:
        raise Waiting(reason, seconds)
    if seconds > 0:
        time.sleep(seconds)


def gate(connection: redis.Redis, queue: str, sink: Sink) -> None:
    """Raise ``Waiting`` (or sleep a short wait) until the sink's pause, Retry-After and breaker let it go."""
    if sinkstate.is_paused(connection, queue, sink.name):
        raise Waiting(PAUSED, PAUSED_RECHECK)
    while wait := gates.held(connection, queue, sink.name):
        wait_for(RETRY_AFTER, wait)
    while wait := gates.admit(connection, queue, sink.name):  # after a short sleep, ask again: one probe at a time
        wait_for(BREAKER, wait)


def pacer(connection: redis.Redis, queue: str, sink: Sink) -> sinks.Pace:
    """Return what the sink calls before each delivery: take a slot of its rate, sleeping a short wait."""
    interval = sink.limits.interval
    if interval is None:
        return sinks.no_pace

    def pace() -> None:
        while wait := gates.pace(connection, queue, sink.name, interval):
            wait_for(RATE, wait)

    return pace


def rescheduled(job: Any, queue: str, reason: str, seconds: float) -> Retry:
    """Note why the job waits and return the ``Retry`` that runs it again in ``seconds`` (whole, at least 1)."""
    job.meta[WAITING] = reason
    job.save_meta()
    now = time.time()
    with job.connection.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.waiting_deliveries(queue), {job.id: now + seconds})
        pipe.zremrangebyscore(keys.waiting_deliveries(queue), "-inf", now - STALE_WAIT)  # a job deleted meanwhile
        pipe.execute()
    return Retry(max=WAIT_FOREVER, interval=[max(1, math.ceil(seconds))])


def fail_for_good(job: Any, reason: str) -> NoReturn:
    """Fail the running job without a retry: it rests in the dead letters with ``reason``."""
    if job is not None:
        job.retries_left = 0  # RQ retries only a job with retries left
    raise sinks.Permanent(reason) from None


def throttled(job: Any, exc: sinks.Throttled, settings: Settings) -> float:
    """Spend a retry only if throttling has lasted the schedule's next interval; return the wait (capped)."""
    now, left = time.time(), job.retries_left or 0
    since = float(job.meta.get(THROTTLED_SINCE) or now)
    intervals = list(job.retry_intervals or [])
    budget = intervals[len(intervals) - left] if left and intervals else (intervals[-1] if intervals else 0)
    if now - since >= budget:
        if not left:
            fail_for_good(job, f"{exc} (still throttled after the last retry)")
        job.retries_left, since = left - 1, now
    job.meta[THROTTLED_SINCE] = since
    return min(exc.seconds, settings.retry_after_max)


def run(settings: Settings, job: Any, connection: redis.Redis, sink: Sink, events: list[dict[str, Any]]) -> Any:
    """Deliver ``events`` to ``sink`` as far as its gates allow; return the job's result or a ``Retry`` (a wait)."""
    queue, name = settings.queue, sink.name
    token = job.id if job is not None else f"{name}:{time.time()}"
    entered = False
    if job is not None and job.meta.get(WAITING):  # its wait is over: it runs
        connection.zrem(keys.waiting_deliveries(queue), job.id)
    todo = state.undelivered(connection, queue, name, settings.dedup_window, events)
    if not todo:
        return {"sink": name, "delivered": 0, "already": len(events)}
    if job is not None and job.retries_left and state.resting(connection, queue, name):
        job.retries_left += 1  # not tried: the retry RQ now schedules spends nothing
        tally.count_delivery(connection, queue, name, tally.RETRY)
        raise sinks.Retryable(f"sink {name!r} did not answer its last attempt: not tried while it rests")
    try:
        gate(connection, queue, sink)
        if sink.limits.concurrency is not None:
            lapse = float(getattr(job, "timeout", None) or 3600)
            if not gates.enter(connection, queue, name, sink.limits.concurrency, token, lapse):
                raise Waiting(CONCURRENCY, CONCURRENCY_WAIT)
            entered = True
        sinks.deliver(
            sink,
            todo,
            settings.data_dir,
            lambda done: state.mark_delivered(connection, queue, name, settings.dedup_window, done),
            pacer(connection, queue, sink),
        )
    except Waiting as wait:
        tally.count_delivery(connection, queue, name, tally.WAITED)
        if job is None:
            raise
        return rescheduled(job, queue, wait.reason, wait.seconds)
    except sinks.Throttled as exc:
        tally.count_delivery(connection, queue, name, tally.THROTTLED)
        if job is None:
            raise
        job.meta[LAST_ANSWER] = str(exc)
        seconds = throttled(job, exc, settings)
        gates.hold(connection, queue, name, seconds)
        return rescheduled(job, queue, RETRY_AFTER, seconds)
    except sinks.Permanent as exc:
        tally.count_delivery(connection, queue, name, tally.FAILED)
        if job is not None:
            job.meta.pop(WAITING, None)
            job.meta[LAST_ANSWER] = str(exc)
            job.save_meta()
        return fail_for_good(job, str(exc))
    except sinks.Retryable as exc:
        if isinstance(exc, sinks.Unanswered):
            state.rest(connection, queue, name, exc.seconds)
        tally.count_delivery(connection, queue, name, tally.RETRY)
        is_open = gates.failed(connection, queue, name, sink.limits.breaker_after, sink.limits.breaker_probe)
        if job is not None:
            job.meta.pop(WAITING, None)
            job.meta.pop(THROTTLED_SINCE, None)
            job.meta[LAST_ANSWER] = str(exc)
            job.save_meta()
            if is_open:  # the sink is down: wait for the next probe, spending no retry
                return rescheduled(job, queue, BREAKER, max(gates.probe_in(connection, queue, name), INLINE_WAIT))
        raise  # RQ retries it while retries are left; the last failure makes it a dead letter
    finally:
        if entered:
            gates.leave(connection, queue, name, token)
    gates.succeeded(connection, queue, name)
    tally.count_delivery(connection, queue, name, tally.DELIVERED)
    if job is not None and [job.meta.pop(WAITING, None), job.meta.pop(THROTTLED_SINCE, None)] != [None, None]:
        job.save_meta()
    return {"sink": name, "delivered": len(todo), "already": len(events) - len(todo)}
