"""The books: every capture answered 200 against where it is now, per day and source; what is missing or stuck.

A capture on disk is, in this order of evidence:

- ``processed``: the ledger index holds an event or a reject of it (read-only,
  one indexed lookup a capture), or its events were another capture's (a guid
  written first), or it holds no event at all (an empty payload writes nothing);
- ``dead``: a dead letter, in the failed registry of the capture queue;
- ``on_disk``: after the forwarder's cursor, not handed to the queue yet;
- ``queued``, ``running``, ``retrying`` (waiting for a retry) or ``scheduled``
  (held by RQ for another reason), from its job in Redis;
- ``missing``: none of these. Nothing will process it unless someone re-queues it.

A waiting capture (on disk, queued, running, retrying, scheduled) received
more than ``stuck_after`` ago is also listed as stuck. The captures are read
as a stream, day by day, and Redis is asked only about those the index does
not know, in pipelined batches: memory stays flat however many captures a day
holds (the missing and stuck ids listed are capped at ``MAX_LISTED``).

It sees one host's data dir and ledger, and the Redis the workers share: run it
on each receiver host. Failure policy: unreadable lines are skipped and counted
(``torn``); OS, SQLite and Redis errors propagate to the caller.
"""

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from rq.job import Job
from rq.registry import FailedJobRegistry

from receiver.capture.analyse import Reject, analyse_capture
from receiver.capture.record import parse_line
from receiver.core import layout
from receiver.core.layout import CAPTURES
from receiver.core.lines import complete_lines
from receiver.core.settings import Settings
from receiver.forwarder import cursor as cursor_mod
from receiver.ledger.index import open_read_only
from receiver.ledger.repeats import received_seconds
from receiver.store.files import day_files, open_binary
from receiver.store.written import ELSEWHERE, fates

STATES = ("processed", "dead", "on_disk", "queued", "running", "retrying", "scheduled", "missing")
WAITING = frozenset(("on_disk", "queued", "running", "retrying", "scheduled"))
JOB_STATES = {"queued": "queued", "started": "running", "scheduled": "retrying", "deferred": "scheduled"}
DONE = frozenset(("finished",))
DEAD = frozenset(("failed",))
MAX_LISTED = 10_000
BATCH = 500  # captures asked about in one Redis pipeline
# The receiver writes these three first; anything else falls back to a whole JSON parse of the line.
HEAD = re.compile(
    rb'\{"id":"([0-9A-HJKMNP-TV-Z]{26})","received_at":"([^"\\]{1,40})","source":("(?:[^"\\]|\\.)*"|null)'
)


@dataclass
class Books:
    """The counts per ``(day, source)``, and the captures an operator must look at."""

    rows: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    missing_records: list[dict[str, Any]] = field(default_factory=list)
    torn: int = 0

    def add(self, day: str, source: str, state: str) -> None:
        """Count one capture of ``day`` and ``source`` in ``state``."""
        counts = self.rows.setdefault((day, source), Counter())
        counts["captures"] += 1
        counts[state] += 1

    def totals(self) -> Counter[str]:
        """Return the counts of every row added up."""
        total: Counter[str] = Counter()
        for counts in self.rows.values():
            total.update(counts)
        return total

    def json(self) -> dict[str, Any]:
        """Return the books as one JSON-safe document."""

        def full(counts: Counter[str]) -> dict[str, int]:
            return {"captures": counts["captures"], **{state: counts[state] for state in STATES}}

        rows = [{"day": day, "source": source, **full(c)} for (day, source), c in sorted(self.rows.items())]
        return {
            "books": rows,
            "totals": full(self.totals()),
            "missing": self.missing,
            "stuck": self.stuck,
            "torn_lines": self.torn,
        }


def head(line: bytes) -> tuple[str, str, str] | None:
    """Return ``(id, received_at, source)`` of a capture line, or None when the line is not a capture."""
    match = HEAD.match(line)
    if match:
        source = json.loads(match.group(3)) or "default"
        return match.group(1).decode(), match.group(2).decode(), str(source)
    record = parse_line(line)
    if record is None or not isinstance(record.get("received_at"), str):
        return None
    return record["id"], record["received_at"], str(record.get("source") or "default")


def captures(data_dir: str, first_day: str | None, last_day: str | None) -> Iterator[tuple[str, int | None, bytes]]:
    """Yield ``(day, offset, line)`` of every complete captures line of the days (offset None in a .gz)."""
    for day_file in day_files(data_dir, CAPTURES, first_day, last_day):
        gzipped = day_file.path.endswith(".gz")
        with open_binary(day_file.path) as handle:
            for offset, line in complete_lines(handle, 0):
                yield day_file.day, None if gzipped else offset, line


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
        self.dead = set(FailedJobRegistry(settings.queue, connection=connection).get_job_ids())
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
        pipe = self.redis.pipeline(transaction=False)
        for _day, _source, capture_id, _received, _line in self.pending:
            pipe.hget(Job.key_for(capture_id), "status")
        for (day, source, capture_id, received_at, line), raw in zip(self.pending, pipe.execute()):
            status = raw.decode() if isinstance(raw, bytes) else raw
            if status in DEAD:
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
