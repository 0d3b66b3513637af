"""Hand captures from the disk log to RQ, in a process of its own, one process at a time.

Failure policy: Redis errors are logged once per outage and never raised;
the forwarder backs off and tries again. The cursor only moves past captures
that Redis took (and past torn lines, once they are kept aside in
``spool/torn-captures.jsonl``), so an outage delays processing but loses
nothing, and a capture handed over twice is queued once (``enqueue``: many
captures to a job, each capture's job noted beside it). Any other error is logged and
the pass is tried again. The forwarder is whoever holds an exclusive flock on
``spool/forwarder.lock``; when its process dies the lock is freed and another
carries on from the saved cursor. While it leads, the cursor lives in memory
and is checked against its file before each read (see ``cursor``).

A pass that ends without an exception rewrites ``spool/forwarder.heartbeat``
(its pid, and since when Redis has been unreachable) at most once a second,
so ``/readyz`` and the alerts can tell a live forwarder from a dead or stuck
one, and learn of a Redis outage as soon as the forwarder does.
"""

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from rq import Queue

from receiver.capture.linehead import line_head
from receiver.core import layout
from receiver.core import queues as queueing
from receiver.core.lines import NEWLINE
from receiver.core.queues import REDIS_ERRORS
from receiver.core.settings import Settings
from receiver.forwarder import backlog, cursor, enqueue, heartbeat, sources, torn
from receiver.forwarder.rewind import Rewind

log = logging.getLogger("receiver.forwarder")
BATCH_BYTES = 1024 * 1024  # about 500 captures of 2 KB: one job, three Redis round trips
MAX_BACKOFF = 2.0
LEADER_RETRY = 1.0


class Pass(NamedTuple):
    """What one pass of the forwarder did: whether the next may find captures at once, and the jobs it queued."""

    more: bool  # lines were read (or the cursor went back after a Redis restart): look again without waiting
    enqueued: int


class Line(NamedTuple):
    """A whole captures line the forwarder hands over: the head it read, and the line as text."""

    id: str
    received_at: str
    source: str
    text: str


def split_lines(lines: Iterable[tuple[int, bytes]]) -> tuple[list[Line], list[tuple[int, bytes]]]:
    """Return ``(captures, torn)`` from ``(offset, line)`` pairs: capture lines, and lines that are none."""
    captures, broken = [], []
    for offset, line in lines:
        found = line_head(line) if line.endswith(NEWLINE) else None
        try:
            text = line.decode() if found is not None else None
        except UnicodeDecodeError:
            text = None
        if found is None or text is None:
            broken.append((offset, line))
        else:
            captures.append(Line(*found, text))
    return captures, broken


def latest_of(captures: list[Line]) -> list[dict[str, str]]:
    """Return the last capture's time of each source (file order is receive order), as ``sources.note`` takes it."""
    last = {capture.source: capture.received_at for capture in captures}
    return [{"source": source, "received_at": received_at} for source, received_at in last.items()]


class Forwarder:
    """Move captures from the captures files to the RQ queue."""

    def __init__(self, settings: Settings, queue: Queue | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self.queue = queue or queueing.get_queue(settings)
        self.clock = clock
        self.redis_down_since: float | None = None
        self.position: cursor.Cursor | None = None
        self.rewind = Rewind()
        self.beat_at = 0.0
        self._lock_fd: int | None = None

    def try_lead(self) -> bool:
        """Return True if this forwarder holds (or just took) the leader lock."""
        if self._lock_fd is not None:
            return True
        layout.spool_dir(self.data_dir)
        path = layout.spool_path(self.data_dir, layout.FORWARDER_LOCK)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self.position = None  # read afresh: another leader may have moved it
        return True

    def release(self) -> None:
        """Give up the leader lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd, self.position = None, None

    def forward_once(self) -> Pass:
        """Hand over the next batch of capture lines; say whether more may wait, and how many jobs were queued."""
        if self.position is None:
            self.position = cursor.current(self.data_dir)
            self.rewind.saved(self.position)
        position = cursor.checked(self.data_dir, self.position)
        lines, after = backlog.read_lines(self.data_dir, position, max_bytes=BATCH_BYTES, now=self.clock())
        captures, broken = split_lines(lines)
        enqueued = 0
        try:
            # After an outage (and every so often) ask Redis who it is: a restart may have lost recent jobs.
            if self.redis_down_since is not None or self.rewind.due():
                back = self.rewind.restarted(self.queue.connection)
                if back is not None:
                    log.warning("Redis restarted: handing the captures since %s@%d over again", back.day, back.offset)
                    self.redis_ok()
                    self.position = back
                    cursor.save(self.data_dir, back)
                    return Pass(more=True, enqueued=0)  # the next pass reads from there
            if captures:
                items = [(capture.id, capture.text) for capture in captures]
                enqueued = enqueue.enqueue_items(self.queue, items, self.settings)
                sources.note(self.queue.connection, self.settings.queue, latest_of(captures))  # for the silence alert
            self.redis_ok()
        except REDIS_ERRORS as exc:
            self.redis_failed(exc)
            return Pass(more=False, enqueued=0)  # the cursor stays: the whole batch is tried again
        for offset, line in broken:
            torn.keep(self.data_dir, after.day, offset, line, fsync=self.settings.fsync)
        if lines:  # remember the last line, so the next pass can check the file still holds it
            last_offset, last_line = lines[-1]
            torn_last = bool(broken) and broken[-1][0] == last_offset
            after = cursor.Cursor(after.day, after.offset, None if torn_last else captures[-1].id, len(last_line))
        if after != position:
            cursor.save(self.data_dir, after)
            self.rewind.saved(after)
        self.position = after
        return Pass(more=bool(lines), enqueued=enqueued)

    def drain(self) -> int:
        """Forward until nothing is left or Redis fails; return how many jobs were enqueued."""
        total = 0
        while True:
            done = self.forward_once()
            total += done.enqueued
            if not done.more:
                return total

    def beat(self) -> None:
        """Rewrite the heartbeat file, at most once a second."""
        now = time.monotonic()
        if now - self.beat_at >= heartbeat.EVERY:
            self.beat_at = now
            heartbeat.write(self.data_dir, self.redis_down_since)

    def redis_failed(self, exc: Exception) -> None:
        """Note an outage, logging only its start."""
        if self.redis_down_since is None:
            self.redis_down_since = self.clock()
            log.error("Redis unreachable, captures wait on disk: %s", exc)

    def redis_ok(self) -> None:
        """Note that Redis answers again."""
        if self.redis_down_since is not None:
            log.warning("Redis answers again after %.1fs", self.clock() - self.redis_down_since)
            self.redis_down_since = None

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set: lead when possible, back off while Redis is down."""
        while not stop.is_set():
            if not self.try_lead():
                stop.wait(LEADER_RETRY)
                continue
            try:
                self.drain()
                self.beat()
            except Exception:  # the loop must outlive any surprise (a full disk, a bad file)
                log.exception("forwarder pass failed; trying again")
                stop.wait(MAX_BACKOFF)
                continue
            down = self.redis_down_since is not None
            stop.wait(MAX_BACKOFF if down else self.settings.forward_interval)
        self.release()
