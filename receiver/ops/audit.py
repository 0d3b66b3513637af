"""The books: every capture answered 200 against where it is now, per day and source; what is missing or stuck.

A capture on disk is, in this order of evidence:

- ``processed``: the ledger index holds an event or a reject of it (read-only,
  one indexed lookup a capture), or its events were another capture's (a guid
  written first), or it holds no event at all (an empty payload writes nothing);
- ``dead``: a dead letter, in the failed registry of the capture queue;
- ``on_disk``: after the forwarder's cursor, not handed to the queue yet;
- ``queued``, ``running``, ``retrying`` (waiting for a retry) or ``scheduled``
  (held by RQ for another reason), from the job that holds it (``queues.jobs_of``);
- ``missing``: none of these. Nothing will process it unless someone re-queues it.

A waiting capture (on disk, queued, running, retrying, scheduled) received
more than ``stuck_after`` ago is also listed as stuck. The captures are read
as a stream, day by day, and Redis is asked only about those the index does
not know, in pipelined batches: memory stays flat however many captures a day
holds (the missing and stuck ids listed are capped at ``MAX_LISTED``).

It sees one host's data dir and ledger, and the Redis the workers share: run it
on each receiver host. It changes nothing, unless asked to requeue the missing:
then each is put back on the queue once (as ``replay --enqueue`` does: a
capture already queued is left alone). Failure policy: unreadable lines are
skipped and counted (``torn``); ``audit`` lets OS, SQLite and Redis errors
propagate to the caller; ``take_books`` turns OS and Redis errors into ``AuditFailed``.
"""

import sqlite3
from datetime import datetime

import redis
from rq.job import Job

from receiver.capture.analyse import Reject, analyse_capture
from receiver.capture.record import parse_line
from receiver.core import layout
from receiver.core import queues as queueing
from receiver.core.logsafe import one_line
from receiver.core.settings import Settings
from receiver.forwarder import cursor as cursor_mod
from receiver.forwarder import enqueue
from receiver.ledger.index import open_read_only
from receiver.ledger.repeats import received_seconds
from receiver.ops.books import Books
from receiver.ops.deadletters import dead_captures
from receiver.store.heads import captures, head
from receiver.store.written import ELSEWHERE, fates

WAITING = frozenset(("on_disk", "queued", "running", "retrying", "scheduled"))
JOB_STATES = {"queued": "queued", "started": "running", "scheduled": "retrying", "deferred": "scheduled"}
DONE = frozenset(("finished",))
DEAD = frozenset(("failed",))
MAX_LISTED = 10_000
BATCH = 500  # captures asked about in one Redis pipeline
MAX_DEAD_JOBS = 10_000  # dead letters read for the captures they hold


def written(connection: sqlite3.Connection | None, capture_id: str) -> bool:
    """Say whether the index holds an event or a reject of the capture."""
    if connection is None:
        return False
    return connection.execute("SELECT 1 FROM seen WHERE capture = ? LIMIT 1", (capture_id,)).fetchone() is not None


def nothing_to_write(data_dir: str, line: bytes) -> bool:
    """Say whether processing the capture writes nothing of its own: no events, or every one another's guid."""
    record = parse_line(line)
    try:
        analysis = analyse_capture(record)
    except Reject:
        return False  # a reject would be in the index
    return all(fate.state == ELSEWHERE for fate in fates(data_dir, record or {}, analysis.events))


class Auditor:
    """Classify the captures of one run; ``Books`` collects them."""

    def __init__(self, settings: Settings, connection: redis.Redis, stuck_after: float, now: datetime) -> None:
        self.settings, self.redis, self.now = settings, connection, now.timestamp()
        self.stuck_before = self.now - stuck_after
        self.cursor = cursor_mod.load(settings.data_dir)
        self.dead = dead_captures(connection, settings.queue, MAX_DEAD_JOBS)
        self.index = open_read_only(settings.data_dir)
        self.books = Books()
        self.pending: list[tuple[str, str, str, str, bytes]] = []

    def after_cursor(self, day: str, offset: int | None) -> bool:
        """Say whether the forwarder has not reached this capture yet."""
        if self.cursor is None:
            return True
        if offset is None or day != self.cursor.day:
            return offset is not None and day > self.cursor.day
        return offset >= self.cursor.offset

    def add(self, day: str, offset: int | None, line: bytes) -> None:
        """Classify one captures line, now or in the next Redis batch."""
        fields = head(line)
        if fields is None:
            self.books.torn += 1
            return
        capture_id, received_at, source = fields
        if written(self.index, capture_id):
            self.books.add(day, source, "processed")
        elif capture_id in self.dead:
            self.books.add(day, source, "dead")
        elif self.after_cursor(day, offset):
            self.settle(day, source, capture_id, received_at, "on_disk")
        else:
            self.pending.append((day, source, capture_id, received_at, line))
            if len(self.pending) >= BATCH:
                self.flush()

    def flush(self) -> None:
        """Ask Redis for the jobs of the pending captures, in one pipeline, and classify them."""
        job_ids = queueing.jobs_of(self.redis, self.settings.queue, [pending[2] for pending in self.pending])
        distinct = list(dict.fromkeys(job_ids))
        pipe = self.redis.pipeline(transaction=False)
        for job_id in distinct:
            pipe.hget(Job.key_for(job_id), "status")
        statuses = dict(zip(distinct, pipe.execute()))
        for (day, source, capture_id, received_at, line), job_id in zip(self.pending, job_ids):
            raw = statuses[job_id]
            status = raw.decode() if isinstance(raw, bytes) else raw
            if status in DEAD or capture_id in self.dead:
                state = "dead"
            elif status in JOB_STATES:
                state = JOB_STATES[status]
            elif status in DONE or nothing_to_write(self.settings.data_dir, line):
                state = "processed"
            else:
                state = "missing"
            self.settle(day, source, capture_id, received_at, state, line)
        self.pending = []

    def settle(self, day: str, source: str, capture_id: str, received_at: str, state: str, line: bytes = b"") -> None:
        """Count a capture, and list it when it is missing, or waiting since before the stuck threshold."""
        self.books.add(day, source, state)
        if state == "missing" and len(self.books.missing) < MAX_LISTED:
            self.books.missing.append(capture_id)
            record = parse_line(line)
            if record is not None:
                self.books.missing_records.append(record)
        received = received_seconds(received_at)
        if state in WAITING and received is not None and received < self.stuck_before:
            if len(self.books.stuck) < MAX_LISTED:
                self.books.stuck.append(capture_id)


def audit(
    settings: Settings,
    connection: redis.Redis,
    since: datetime | None,
    until: datetime | None,
    sources: frozenset[str],
    stuck_after: float,
    now: datetime,
) -> Books:
    """Return the books of the captures received in ``[since, until)`` from ``sources`` (all when empty)."""
    auditor = Auditor(settings, connection, stuck_after, now)
    low = since.timestamp() if since else None
    high = until.timestamp() if until else None
    first_day = layout.day_name(since) if since else None
    last_day = layout.day_name(until) if until else None
    try:
        for day, offset, line in captures(settings.data_dir, first_day, last_day):
            fields = head(line)
            if fields is not None:
                received = received_seconds(fields[1])
                if (low is not None and (received is None or received < low)) or (
                    high is not None and (received is None or received >= high)
                ):
                    continue
                if sources and fields[2] not in sources:
                    continue
            auditor.add(day, offset, line)
        if auditor.pending:
            auditor.flush()
    finally:
        if auditor.index is not None:
            auditor.index.close()
    return auditor.books


class AuditFailed(Exception):
    """The books could not be made: Redis away, a file unreadable. The message says why, on one line."""


def requeue_missing(settings: Settings, connection: redis.Redis, books: Books) -> list[str]:
    """Put each missing capture back on the queue once; return the ids enqueued."""
    queue = queueing.get_queue(settings, connection)
    return [record["id"] for record in books.missing_records if enqueue.enqueue_capture(queue, record, settings)]


def take_books(
    settings: Settings,
    since: datetime | None,
    until: datetime | None,
    sources: frozenset[str],
    stuck_after: float,
    now: datetime,
    requeue: bool = False,
) -> tuple[Books, list[str]]:
    """Connect to Redis and return the books, and the ids requeued when ``requeue`` (each missing capture, once)."""
    try:
        connection = queueing.connect(settings)
        books = audit(settings, connection, since, until, sources, stuck_after, now)
        requeued = requeue_missing(settings, connection, books) if requeue else []
    except (redis.RedisError, OSError) as exc:
        raise AuditFailed(f"cannot audit: {one_line(exc)}") from None
    return books, requeued
