"""Hand captures from the disk log to RQ in the background, one process at a time.

Failure policy: Redis errors are logged once per outage and never raised;
the forwarder backs off and tries again. The cursor only moves past captures
that Redis took, so an outage delays processing but loses nothing, and a
capture handed over twice is queued once (its job id is its capture id, and
a batch skips ids whose job exists). The forwarder is
whoever holds an exclusive flock on ``spool/forwarder.lock``; when its process
dies the lock is freed and another process carries on from the saved cursor.
"""
import fcntl
import json
import logging
import os
import threading
import time

from . import cursor, queueing
from .queueing import REDIS_ERRORS

log = logging.getLogger("receiver.forwarder")
LOCK_FILE = "forwarder.lock"
BATCH_BYTES = 1024 * 1024  # about 500 captures of 2 KB: two Redis round trips each
MAX_BACKOFF = 2.0
LEADER_RETRY = 1.0
OBSERVE_EVERY = 10.0


class Forwarder:
    """Move captures from the captures files to the RQ queue."""

    def __init__(self, settings, queue=None, observer=None, clock=time.time):
        self.settings = settings
        self.queue = queue or queueing.get_queue(settings)
        self.observer = observer
        self.clock = clock
        self.redis_down_since = None
        self._lock_fd = None

    def try_lead(self):
        """Return True if this forwarder holds (or just took) the leader lock."""
        if self._lock_fd is not None:
            return True
        path = os.path.join(cursor.spool_dir(self.settings.data_dir), LOCK_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def release(self):
        """Give up the leader lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def forward_once(self):
        """Hand over the next batch of capture lines; return ``(lines read, jobs enqueued)``."""
        data_dir = self.settings.data_dir
        position = cursor.load(data_dir)
        lines, after = cursor.read_lines(data_dir, position, max_bytes=BATCH_BYTES)
        enqueued = 0
        try:
            if lines:
                enqueued = queueing.enqueue_captures(self.queue, parse_lines(lines), self.settings)
            elif self.redis_down_since is not None:
                self.queue.connection.ping()  # idle during an outage: find out when it ends
            self.redis_ok()
        except REDIS_ERRORS as exc:
            self.redis_failed(exc)
            return 0, 0  # the cursor stays: the whole batch is tried again
        if after != position:
            cursor.save(data_dir, after)
        return len(lines), enqueued

    def drain(self):
        """Forward until nothing is left or Redis fails; return how many jobs were enqueued."""
        total = 0
        while True:
            read, enqueued = self.forward_once()
            total += enqueued
            if not read:
                return total

    def redis_failed(self, exc):
        """Note an outage, logging only its start."""
        if self.redis_down_since is None:
            self.redis_down_since = self.clock()
            log.error("Redis unreachable, captures wait on disk: %s", exc)

    def redis_ok(self):
        """Note that Redis answers again."""
        if self.redis_down_since is not None:
            log.warning("Redis answers again after %.1fs", self.clock() - self.redis_down_since)
            self.redis_down_since = None

    def run(self, stop):
        """Forward until ``stop`` is set: lead when possible, back off while Redis is down."""
        next_observe = 0.0
        while not stop.is_set():
            if not self.try_lead():
                stop.wait(LEADER_RETRY)
                continue
            try:
                self.drain()
                if self.observer and time.monotonic() >= next_observe:
                    next_observe = time.monotonic() + OBSERVE_EVERY
                    self.observer(self)
            except Exception:  # the loop must outlive any surprise (a full disk, a bad file)
                log.exception("forwarder loop error")
            down = self.redis_down_since is not None
            stop.wait(MAX_BACKOFF if down else self.settings.forward_interval)


_started = {}


def parse_lines(lines):
    """Return the capture records of ``lines``; a corrupt line is logged and skipped."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
            record["id"]
        except (ValueError, KeyError, TypeError):
            log.error("skipping a corrupt capture line: %r", line[:120])
            continue
        records.append(record)
    return records


def start_background(settings, observer=None):
    """Start this process's forwarder thread once; return the thread."""
    pid = os.getpid()
    if pid not in _started:
        forwarder = Forwarder(settings, observer=observer)
        thread = threading.Thread(target=forwarder.run, args=(threading.Event(),), name="forwarder", daemon=True)
        thread.start()
        _started[pid] = thread
    return _started[pid]
