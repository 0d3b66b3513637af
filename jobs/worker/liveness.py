"""Say in Redis, every second, that this worker lives; and hand back, every few seconds, the jobs of those that died.

A daemon thread (``Pulse``) sets the worker's liveness key (``keys.alive``)
with a ``ALIVE_TTL`` TTL every ``BEAT_EVERY``, while the worker works,
whatever its main thread is doing (a SimpleWorker runs its job there). So a
killed worker's key is gone within ``ALIVE_TTL``, and every live worker,
between jobs and while it waits for one (its idle dequeue wakes every
``CHECK_EVERY``), runs ``reclaim.reclaim`` over all our queues: the job a
dead worker held runs again within seconds, not after RQ's heartbeat lapses.

A worker judges others only once its own beats have reached Redis for a
whole ``ALIVE_TTL`` without a miss: one just started, or back from an
outage, would otherwise take every key that lapsed meanwhile for a death.

Failure policy: the pulse thread never raises (a beat that fails makes the
worker unsteady until its beats reach Redis again for a whole TTL); the
check's Redis errors are noted as an outage, as any of the worker's, and any
other error is logged and leaves the job to RQ's own recovery.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.client import Pipeline
from rq.utils import now, utcformat

from jobs.worker import reclaim
from jobs.worker.outage import Resilient
from jobs.worker.pops import RememberingQueue
from receiver.core import keys
from receiver.core import queues as queueing

log = logging.getLogger("receiver.worker")
BEAT_EVERY = 1.0
ALIVE_TTL = 5  # seconds; five beats may fail (a slow Redis) before others take the worker for dead
CHECK_EVERY = 2  # seconds between two checks for dead workers' jobs; also the idle dequeue's wait
STOP_WAIT = 2.0  # how long a stopping worker waits for its pulse thread


class Pulse:
    """The thread that keeps one worker's liveness key set while the worker works."""

    def __init__(self, connection: redis.Redis, worker: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.connection, self.key, self.clock = connection, keys.alive(worker), clock
        self.value = f"{socket.gethostname()}:{os.getpid()}"
        self.since: float | None = None  # since when every beat reached Redis
        self.pid = os.getpid()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"pulse-{worker}", daemon=True)

    def beat(self) -> None:
        """Set the key for another ``ALIVE_TTL``; note a miss, and warn when the key had lapsed."""
        try:
            if not self.connection.set(self.key, self.value, ex=ALIVE_TTL, xx=True):
                self.connection.set(self.key, self.value, ex=ALIVE_TTL)
                if self.since is not None:
                    log.warning("this worker's liveness key lapsed: a job in hand may be run again by another worker")
        except queueing.REDIS_ERRORS:
            self.since = None
            return
        if self.since is None:
            self.since = self.clock()

    def steady(self) -> bool:
        """Say whether every beat of the last ``ALIVE_TTL`` reached Redis (so may others' have)."""
        return self.since is not None and self.clock() - self.since >= ALIVE_TTL

    def start(self) -> None:
        """Set the key now, then keep it set from a thread."""
        self.beat()
        self.thread.start()

    def run(self) -> None:
        """Beat every ``BEAT_EVERY`` until ``stop``."""
        while not self.stopping.wait(BEAT_EVERY):
            self.beat()

    def stop(self) -> None:
        """Stop beating and delete the key (a forked horse has no thread and leaves the key alone)."""
        if os.getpid() != self.pid:
            return
        self.stopping.set()
        self.thread.join(STOP_WAIT)
        try:
            self.connection.delete(self.key)
        except queueing.REDIS_ERRORS:
            pass  # it lapses by itself within ALIVE_TTL


class Watchful(Resilient):
    """Mix into an RQ worker class: keep a liveness key, and hand back the jobs of workers that died."""

    pulse: Pulse | None = None
    watched: Sequence[str] = ()  # the queues whose dead workers' jobs this worker hands back: all of ours
    checked_at = float("-inf")

    @property
    def dequeue_timeout(self) -> int:
        """Wake an idle worker every ``CHECK_EVERY`` (RQ's ``worker_ttl - 15``), so it checks on time."""
        return CHECK_EVERY

    def register_birth(self) -> None:
        """Register as RQ does, then start beating: before the first pop, so every pop record names a live worker.

        A worker restarted under the name of one that was killed would wait
        for RQ's registration of it to lapse (a minute and more), and then
        take its jobs for its own: once the dead one's liveness key has lapsed,
        it hands them back and takes the name over (a live namesake keeps its
        key set, and RQ refuses the name as before).
        """
        stale = self.connection.exists(self.key) and not self.connection.hexists(self.key, "death")
        deadline = time.monotonic() + ALIVE_TTL + BEAT_EVERY  # a key the dead one set lapses by then
        while stale and self.connection.exists(keys.alive(self.name)) and time.monotonic() < deadline:
            time.sleep(BEAT_EVERY / 4)
        if stale and not self.connection.exists(keys.alive(self.name)):
            reclaim.reclaim(self.connection, self.watched, only=self.name)
            self.connection.hset(self.key, "death", utcformat(now()))
            log.warning("worker %s had died (no liveness key): its jobs are handed back, its name taken", self.name)
        super().register_birth()
        RememberingQueue.worker_name = self.name
        self.pulse = Pulse(self.connection, self.name)
        self.pulse.start()

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """Work as RQ does; stop beating when done, however it ends."""
        try:
            return super().work(*args, **kwargs)
        finally:
            if self.pulse is not None:
                self.pulse.stop()
                self.pulse = None

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> Any:
        """Send RQ's heartbeat; a direct one (between jobs, while idle) also checks for dead workers' jobs."""
        result = super().heartbeat(timeout, pipeline)
        if pipeline is None and not self.is_horse:
            self.noted(self.check)
        return result

    def check(self) -> None:
        """Hand back dead workers' jobs, at most every ``CHECK_EVERY`` and only while this worker's pulse is steady."""
        if self.pulse is None or not self.pulse.steady() or time.monotonic() - self.checked_at < CHECK_EVERY:
            return
        self.checked_at = time.monotonic()
        try:
            reclaim.reclaim(self.connection, self.watched)
        except queueing.REDIS_ERRORS:
            raise
        except Exception:
            log.exception("checking for dead workers' jobs failed; RQ's own recovery still retries them")
