"""Find one capture by id in bounded time, for the inspector's detail page: bisect its day file, stop past its time.

An id is a ULID, so its time names its day file, and lines are appended
nearly in time order: a line is never more than ``WRITE_GRACE`` seconds
older than a line before it (the rule ``paging`` stops on). So a plain
``.jsonl`` day is bisected on the id at the start of each line (a few reads
of a block) to a point before the id's time less the grace, and read on from
there until a line more than the grace past it: a lookup over a day of
200,000 captures reads a few hundred lines, not the day. A ``.gz`` day is
read as a stream (nothing is decompressed to disk) from its start, up to
the same point past the id's time. A line that does not start with an id
(hand-made) stops the bisection there and is read like any other. Only a
line holding the id's text is parsed. Every ``PAUSE_EVERY`` lines the
search sleeps for no time, so that under gevent other requests (``/healthz``)
are served meanwhile, and it gives up after ``LOOKUP_SECONDS``.

Memory is one line at a time: the capture's own (at most the receiver's
``DUMPER_MAX_BYTES`` of body, stored as text or base64).

Failure policy: an id in no file raises ``UnknownCaptureError``; a search
out of time raises ``LookupTimeout`` (an ``UnknownCaptureError`` that says
how far it read); unreadable files raise ``DataFileError``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import IO

from receiver.core.ids import id_time_ms
from receiver.core.layout import CAPTURES, WRITE_GRACE
from receiver.store.files import GZIP_ERRORS, DataFileError, Reader, Record, day_files, open_binary
from receiver.store.select import UnknownCaptureError, id_day

LOOKUP_SECONDS = 5.0
PAUSE_EVERY = 256  # lines between two cooperative pauses (and clock checks)
BISECT_STOP = 64 * 1024  # bytes: below this span, reading on is cheaper than another seek
HEAD = 64  # bytes of a line that hold its id: {"id":"<26 characters>"
GRACE_MS = int(WRITE_GRACE * 1000)
LINE_ID = re.compile(rb'^\{"id":\s*"([0-9A-HJKMNP-TV-Z]{26})"')


class LookupTimeout(UnknownCaptureError):
    """The search for a capture ran out of time before it could say."""


def line_ms(head: bytes) -> int | None:
    """Return the time of the id a line starts with, or None for a line that does not start with one."""
    match = LINE_ID.match(head)
    return id_time_ms(match.group(1).decode()) if match else None


def line_after(handle: IO[bytes], offset: int) -> tuple[int, int | None]:
    """Return where the first line starting at or after ``offset`` starts, and the time of its id."""
    handle.seek(max(0, offset - 1))
    if offset:
        handle.readline()  # the rest of the line ``offset - 1`` is in
    start = handle.tell()
    return start, line_ms(handle.read(HEAD))


def start_offset(handle: IO[bytes], low_ms: int) -> int:
    """Return a line start before which no line holds a capture of ``low_ms + GRACE_MS`` or later."""
    lo, hi = 0, handle.seek(0, os.SEEK_END)
    while hi - lo > BISECT_STOP:
        mid = (lo + hi) // 2
        start, ms = line_after(handle, mid)
        if ms is None or start >= hi:
            break  # a hand-made line, or no line starts in [mid, hi): read on from lo
        if ms < low_ms:
            lo = start  # no line before it is more than the grace later than it
        else:
            hi = mid
    return lo


class Search:
    """Look for one id in a day's files, within a deadline."""

    def __init__(self, capture_id: str, reader: Reader, budget: float, clock: Callable[[], float]) -> None:
        self.capture_id, self.reader, self.clock = capture_id, reader, clock
        self.needle = capture_id.encode()
        self.ms = id_time_ms(capture_id)
        self.deadline = clock() + budget
        self.budget = budget
        self.lines = 0

    def scan(self, lines: Iterator[bytes], path: str) -> Record | None:
        """Return the capture among ``lines``, or None once a line is more than the grace past its time."""
        for line in lines:
            self.lines += 1
            if self.lines % PAUSE_EVERY == 0:
                time.sleep(0)  # under gevent: let the other requests of this process run
                if self.clock() > self.deadline:
                    raise LookupTimeout(
                        f"capture {self.capture_id} not found within the {self.budget:g} s a lookup may take"
                        f" ({self.lines:,} lines of {path} read)"
                    )
            ms = line_ms(line[:HEAD])
            if ms is not None and ms > self.ms + GRACE_MS:
                return None
            if self.needle in line:
                record = self.reader.parse(line, path, f"line {self.lines}")
                if record is not None and record.get("id") == self.capture_id:
                    return record
        return None

    def in_plain(self, path: str) -> Record | None:
        """Bisect a plain day file to the id's time, then scan on."""
        try:
            with open(path, "rb") as handle:
                handle.seek(start_offset(handle, self.ms - GRACE_MS))
                return self.scan(iter(handle.readline, b""), path)
        except OSError as exc:
            raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None

    def in_gzip(self, path: str) -> Record | None:
        """Stream a ``.gz`` day from its start, to past the id's time."""
        with open_binary(path) as handle:
            try:
                return self.scan(iter(handle), path)
            except GZIP_ERRORS as exc:
                raise DataFileError(f"cannot read {path}: {exc}") from None
            except OSError as exc:
                raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def find_capture(
    data_dir: str,
    capture_id: str,
    reader: Reader,
    budget: float = LOOKUP_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Record:
    """Return the capture record with ``capture_id`` (a normalised id), or raise ``UnknownCaptureError``."""
    search, day = Search(capture_id, reader, budget, clock), id_day(capture_id)
    for day_file in day_files(data_dir, CAPTURES, day, day):
        found = search.in_gzip(day_file.path) if day_file.gzipped else search.in_plain(day_file.path)
        if found is not None:
            return found
    raise UnknownCaptureError(f"unknown capture id {capture_id} (not in {os.path.join(data_dir, CAPTURES)})")
