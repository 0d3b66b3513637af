"""Page through captures newest first, as the web inspector lists them: cursors, a time budget, new arrivals.

A page is read from the end of the newest day file backwards
(``backwards.placed_lines_backwards``) and stops once it is full, so the
first page of a day of a million captures costs a few blocks. The next page
starts at a ``Position`` (the capture id, which file of its day, and where its
line starts), so going deeper never re-reads what was shown. Every page also
stops after ``SCAN_SECONDS``: a filter that matches few captures of a big day
returns what it found so far and where to go on, instead of holding a web
worker for a minute. A page also stops once it holds ``PAGE_BYTES`` of
capture bodies, so a page of huge captures costs a few of them in memory
and time, and the next page goes on from there. Lines are appended nearly
in time order (a capture is written right after its id is taken, and a day
file closes ``WRITE_GRACE`` after its midnight), so a page stops once it
reads a capture received that long before the window starts. Each capture
read is followed by a pause of no time (``pause``), so that under gevent a
long page never holds up the other requests of its process.

Failure policy: as ``select`` (unreadable lines skipped through the
``Reader``, captures that cannot be matched skipped with a warning, files
that cannot be read raise ``DataFileError``); a position that no longer
points at its capture (the day was compressed since) is found again by id.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from receiver.capture.record import utc_ms
from receiver.core.ids import id_time_ms
from receiver.core.layout import CAPTURES, WRITE_GRACE, day_name
from receiver.store.backwards import placed_lines_backwards, seekable
from receiver.store.files import DayFile, Reader, Record, Warn, day_files
from receiver.store.filters import Filters, Matcher
from receiver.store.reading import Reading
from receiver.store.select import Pair, id_day, matches, normal_id

SCAN_SECONDS = 2.0
PAGE_BYTES = 2 * 1024 * 1024  # of capture bodies a page holds (at least one): decoding takes ~50x a body's size
GRACE = timedelta(seconds=WRITE_GRACE)
TOKEN = re.compile(r"^([0-9A-Za-z]{26})(?:\.([01])\.(\d{1,15}))?$")


class BadPosition(ValueError):
    """A text is not a page position."""


@dataclass(frozen=True)
class Position:
    """Say where one capture's line is: its id, its day file's rank (0 ``.gz``, 1 ``.jsonl``) and offset."""

    capture_id: str
    rank: int | None = None  # None: only the id is known; the line is found by reading its day
    offset: int = 0

    def token(self) -> str:
        """Return the position as text for a URL: ``ID.RANK.OFFSET``."""
        return self.capture_id if self.rank is None else f"{self.capture_id}.{self.rank}.{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """Return the position a ``token()`` (or a bare capture id) names; raise ``BadPosition`` otherwise."""
        match = TOKEN.match(text.strip())
        if not match:
            raise BadPosition(f"{text!r} is not a capture id or a page position")
        capture_id = normal_id(match.group(1))
        if match.group(2) is None:
            return cls(capture_id)
        return cls(capture_id, int(match.group(2)), int(match.group(3)))


@dataclass
class Page:
    """Hold one page: its captures, where the next starts, and how the reading went."""

    items: list[Pair] = field(default_factory=list)
    next: Position | None = None  # pass as ``before`` for the next page; None: nothing older matches
    complete: bool = True  # False: the time budget ran out before the page was full
    scanned: int = 0
    reached: str | None = None  # received_at of the last capture read


def line_at(reader: Reader, handle: IO[bytes], offset: int, path: str) -> Record | None:
    """Return the record whose line starts at ``offset``, or None (also for an offset past the end)."""
    if offset >= handle.seek(0, os.SEEK_END):
        return None  # a forged or stale position: its capture is found again by id
    handle.seek(offset)
    line = handle.readline()
    return reader.parse(line, path, f"at byte {offset}") if line.strip() else None


class Start:
    """Track where a listing starts: before a position that may not have been found yet."""

    def __init__(self, position: Position | None) -> None:
        self.position = position  # None once found (or when the listing starts at the newest capture)

    def hint(self, rank: int) -> Position | None:
        """Return what to look for in a file of the start's day with ``rank``: the position, or its id alone."""
        if self.position is None or self.position.rank in (None, rank):
            return self.position
        return Position(self.position.capture_id)  # its file was compressed (or replaced): find it by id


def file_records(reader: Reader, day_file: DayFile, start: Start) -> Iterator[tuple[Position, Record]]:
    """Yield ``(position, record)`` for one day file newest first; while ``start`` is pending, only after it."""
    rank, hint = day_file.rank, start.hint(day_file.rank)
    with seekable(day_file.path) as handle:
        end, hunted = None, hint.capture_id if hint is not None else None
        if hint is not None and hint.rank == rank:
            found = line_at(reader, handle, hint.offset, day_file.path)
            if found is not None and found.get("id") == hint.capture_id:
                end, hunted, start.position = hint.offset, None, None
        lines = placed_lines_backwards(handle, end=end)
        next(lines, None)  # the piece after the last newline: empty, or a line still being written
        for offset, line in lines:
            if not line.strip() or (hunted is not None and hunted.encode() not in line):
                continue  # while hunting for the start, only a line that names its id is parsed
            record = reader.parse(line, day_file.path, f"at byte {offset}")
            if record is None:
                continue
            if hunted is not None:
                if record["id"] == hunted:
                    hunted, start.position = None, None
                continue
            yield Position(record["id"], rank, offset), record


def placed_records(reader: Reader, files: list[DayFile], start: Position | None) -> Iterator[tuple[Position, Record]]:
    """Yield ``(position, record)`` for ``files`` newest first (last day, ``.jsonl`` before ``.gz``).

    With ``start``, only the records after it: newer files of its day are skipped, and if its own
    file has gone (compressed since), the day's other files are searched for its id.
    """
    state = Start(start)
    start_day = id_day(start.capture_id) if start is not None else None
    for day_file in reversed(files):
        if state.position is None or start_day is None or day_file.day < start_day:
            yield from file_records(reader, day_file, Start(None))
        elif day_file.day == start_day:
            rank = state.position.rank
            if rank is None or day_file.rank <= rank or not any(f.day == start_day and f.rank == rank for f in files):
                yield from file_records(reader, day_file, state)


def floor_of(since: datetime | None) -> str | None:
    """Return the received_at below which no capture of a window starting at ``since`` can follow."""
    return utc_ms(since - GRACE) if since is not None else None


def newest_page(
    data_dir: str,
    filters: Filters,
    reader: Reader,
    size: int = 50,
    before: Position | None = None,
    skip: int = 0,
    budget: float = SCAN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    warn: Warn | None = None,
) -> Page:
    """Return the page of ``size`` matching captures, newest first, after ``skip`` of them and before ``before``."""
    first_day, last_day = filters.day_range()
    if before is not None:
        last_day = min(last_day or "9999", id_day(before.capture_id))
    files = day_files(data_dir, CAPTURES, first_day, last_day)
    floor, matcher, deadline = floor_of(filters.window()[0]), Matcher(filters), clock() + budget
    page, skipped, shown, held = Page(), 0, None, 0
    for position, record in placed_records(reader, files, before):
        page.scanned, page.reached = page.scanned + 1, record["received_at"]
        pause()
        if floor is not None and record["received_at"] < floor:
            break
        analysis = Reading(record, data_dir)
        if matches(matcher, record, analysis, warn):
            if skipped < skip:
                skipped += 1
            elif len(page.items) == size:
                page.next = shown  # one more matches: the next page starts after the last one shown
                return page
            else:
                page.items.append((record, analysis))
                shown, held = position, held + body_size(record)
                if held >= PAGE_BYTES and len(page.items) < size:
                    page.next = shown  # full by size: the next page starts after this capture
                    return page
        if clock() > deadline:
            page.next, page.complete = position, len(page.items) == size
            return page
    return page


def body_size(record: Record) -> int:
    """Return the length of a capture's stored body (text or base64), what a page holds of it."""
    body = record.get("body")
    return len(body) if isinstance(body, str) else 0


def pause() -> None:
    """Sleep for no time after each capture (a few microseconds): under gevent, the process serves others meanwhile.

    Per capture, not per so many: one huge capture takes a tenth of a second to decode.
    """
    time.sleep(0)


def after_time(after: Position | datetime) -> datetime:
    """Return the time of ``after``: its capture id's time, or the time itself."""
    if isinstance(after, datetime):
        return after
    return datetime.fromtimestamp(id_time_ms(after.capture_id) / 1000, tz=UTC)


def arrivals(
    data_dir: str,
    filters: Filters,
    reader: Reader,
    after: Position | datetime,
    size: int = 50,
    budget: float = SCAN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    warn: Warn | None = None,
) -> tuple[list[Pair], str | None]:
    """Return the matching captures newer than ``after`` (newest first, at most ``size``) and the newest id read.

    ``after`` is the newest capture a page already shows, or the time it was made when it showed none.
    The newest id read is the ``after`` of the next poll, matching or not, so a poll never reads a capture twice.
    """
    floor_time = after_time(after) - GRACE
    last_day = filters.day_range()[1]
    files = day_files(data_dir, CAPTURES, day_name(floor_time), last_day)
    floor, matcher, deadline = utc_ms(floor_time), Matcher(filters), clock() + budget
    stamp = utc_ms(after) if isinstance(after, datetime) else None
    items: list[Pair] = []
    newest: str | None = None
    held = 0
    for _, record in placed_records(reader, files, None):
        pause()
        if isinstance(after, Position) and record["id"] == after.capture_id:
            break
        if record["received_at"] < floor or (stamp is not None and record["received_at"] < stamp):
            break
        newest = newest or record["id"]
        analysis = Reading(record, data_dir)
        if matches(matcher, record, analysis, warn):
            items.append((record, analysis))
            held += body_size(record)
        if len(items) >= size or held >= PAGE_BYTES or clock() > deadline:
            break
    return items, newest
