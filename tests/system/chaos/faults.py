"""Inject a seeded, random schedule of faults into a running stack, and remember when each was active.

Faults: Redis SIGKILL and restart (AOF on), Redis SIGSTOP/SIGCONT, an RQ
worker SIGKILLed (its supervisor restarts it), a gunicorn worker SIGKILLed
(the gunicorn master restarts it), a torn append to the captures file, a
burst of slow clients, and a disk that refuses writes: RLIMIT_FSIZE of 1 byte
on the gunicorn workers (Python ignores SIGXFSZ, so a write fails with EFBIG).
"""

import os
import resource
import signal
import threading
import time
from collections import Counter

from receiver.core import jsonl, layout
from tests.support.slowclients import SlowClients

FAULTS = ("redis_kill", "redis_stop", "worker_kill", "gunicorn_kill", "torn_append", "slow_clients", "disk_full")
GAP = (3.0, 9.0)  # seconds between two faults
OUTAGE = (2.0, 5.0)  # how long Redis stays away
DISK_FULL_SECONDS = 3.0
SLOW_CLIENTS, SLOW_SECONDS = 50, 8.0
# After a fault ends, the receiver may take this long to be itself again (its Redis breaker cools down in 5 s).
AFTERGLOW = 6.0


class Injector:
    """Run faults on a timer in the background; ``active`` names those in force right now."""

    def __init__(self, stack, rng):
        self.stack, self.rng = stack, rng
        self.active = set()
        self.ended = []  # (fault, when it ended)
        self.count = Counter()
        self.stopping = threading.Event()
        self.threads = []

    def ended_since(self, when):
        """Return the faults that ended after ``when - AFTERGLOW``."""
        return {fault for fault, at in list(self.ended) if at >= when - AFTERGLOW}

    def during(self, fault, action, undo, seconds):
        """Mark ``fault`` active, run ``action``, wait ``seconds``, run ``undo``."""
        self.active.add(fault)
        try:
            action()
            self.stopping.wait(seconds)
        finally:
            undo()
            self.active.discard(fault)
            self.ended.append((fault, time.monotonic()))

    def inject(self, fault):
        """Run one fault (in a thread of its own if it lasts)."""
        self.count[fault] += 1
        redis, stack = self.stack.redis, self.stack
        if fault == "redis_kill":
            self.spawn(self.during, fault, lambda: redis.stop(signal.SIGKILL), redis.start, self.rng.uniform(*OUTAGE))
        elif fault == "redis_stop":
            self.spawn(
                self.during,
                fault,
                lambda: redis.proc.send_signal(signal.SIGSTOP),
                lambda: redis.proc.send_signal(signal.SIGCONT),
                self.rng.uniform(*OUTAGE),
            )
        elif fault == "worker_kill":
            pids = stack.worker_pids()
            if pids:
                os.killpg(self.rng.choice(pids), signal.SIGKILL)  # the worker and its scheduler
        elif fault == "gunicorn_kill":
            self.active.add(fault)
            pids = stack.gunicorn_workers()
            if pids:
                os.kill(self.rng.choice(pids), signal.SIGKILL)
            self.active.discard(fault)
            self.ended.append((fault, time.monotonic()))
        elif fault == "torn_append":
            # A writer killed mid-append held the file's lock, as every writer does; then died and let go.
            with jsonl.locked(layout.day_path(stack.data_dir, layout.CAPTURES, layout.day_name())) as fd:
                os.write(fd, b'{"id":"01CHAOSTORN","body":"killed mid-appe')
        elif fault == "slow_clients":
            slow = SlowClients(stack.port, SLOW_CLIENTS)
            self.spawn(self.during, fault, lambda: None, slow.close, SLOW_SECONDS)
        elif fault == "disk_full":
            pids = stack.gunicorn_workers()
            self.spawn(
                self.during, fault, lambda: limit_files(pids, 1), lambda: limit_files(pids, None), DISK_FULL_SECONDS
            )

    def spawn(self, function, *args):
        """Run ``function`` in a background thread."""
        thread = threading.Thread(target=function, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def run(self, duration):
        """Inject faults for ``duration`` seconds, then wait until every fault is undone."""
        end = time.monotonic() + duration
        while not self.stopping.wait(self.rng.uniform(*GAP)) and time.monotonic() < end:
            self.inject(self.rng.choice(FAULTS))
        self.finish()

    def finish(self):
        """Undo the faults in force, and wait for them."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def limit_files(pids, size):
    """Set the largest file ``pids`` may write to ``size`` bytes (None: no limit)."""
    soft = resource.RLIM_INFINITY if size is None else size
    for pid in pids:
        try:
            hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
        except (ProcessLookupError, PermissionError):
            pass
