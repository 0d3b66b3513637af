"""Select captures: from the data dir by filters, from explicit files, or by capture id; page through them.

Captures come from the data dir (day files chosen by name, so a time window
skips whole files), from explicit capture files, or from capture ids (each id
is a ULID, so its own time says which day file holds it). Every source yields
``(record, Reading)`` pairs one at a time, in file order (or newest first),
so a day of a million captures is never held in memory.

Failure policy: a capture that cannot be matched is skipped and handed to the
``warn`` callback; an id that is not a capture id raises ``BadCaptureId``,
one that is in no file ``UnknownCaptureError``; unreadable files raise
``DataFileError`` (from ``files``).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from receiver.core.ids import id_time_ms
from receiver.core.layout import CAPTURES, day_name
from receiver.store.backwards import records_backwards
from receiver.store.files import DayFile, Reader, Record, Warn, day_files
from receiver.store.filters import Filters, Matcher, is_capture
from receiver.store.reading import Reading
from receiver.store.summary import capture_name
from receiver.store.text import describe_error
from receiver.store.timeexpr import LATEST

CAPTURE_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
LATEST_ID_MS = int(LATEST.timestamp() * 1000)  # an id whose time is later names no day file (and no ULID past 7ZZ…)
Pair = tuple[Record, Reading]


class BadCaptureId(ValueError):
    """A text is not a capture id."""


class UnknownCaptureError(Exception):
    """A capture id is not in the data dir."""


def capture_reader(warn: Warn | None = None) -> Reader:
    """Return a ``Reader`` that accepts only capture records."""
    return Reader(require=is_capture, what="capture record", warn=warn)


def normal_id(text: str) -> str:
    """Return a capture id upper-cased, or raise ``BadCaptureId`` when it is not a ULID."""
    value = text.strip().upper()
    if not CAPTURE_ID.match(value):
        raise BadCaptureId(f"{text!r} is not a capture id (26 characters, like 01KB3Q6E0M8ZJ7V6Q2W5T9X4YR)")
    if id_time_ms(value) > LATEST_ID_MS:
        raise BadCaptureId(f"{text!r} is not a capture id: its time is after {LATEST.date()}")
    return value


def matches(matcher: Matcher, record: Record, analysis: Reading, warn: Warn | None = None) -> bool:
    """Say whether a capture passes the filters; one that cannot be matched is skipped with a warning."""
    try:
        return matcher.matches(record, analysis)
    except Exception as exc:  # noqa: BLE001 - a hostile record or payload must not stop a listing or a replay
        if warn is not None:
            warn(f"{capture_name(record)}: cannot match it against the filters ({describe_error(exc)}); skipped")
        return False


def matching(
    records: Iterable[Record],
    filters: Filters,
    limit: bool = True,
    warn: Warn | None = None,
    data_dir: str | None = None,
) -> Iterator[Pair]:
    """Yield the ``(record, Reading)`` pairs of ``records`` that pass ``filters`` (events of ``data_dir``)."""
    matcher, count = Matcher(filters), 0
    for record in records:
        analysis = Reading(record, data_dir)
        if matches(matcher, record, analysis, warn):
            yield record, analysis
            count += 1
            if limit and filters.limit and count >= filters.limit:
                return


def read(reader: Reader, files: Iterable[DayFile | str], newest_first: bool = False) -> Iterator[Record]:
    """Yield the records of ``files`` in order, or newest first (last file, last line first)."""
    if not newest_first:
        return reader.stream(files)
    paths = [item.path if isinstance(item, DayFile) else item for item in files]
    return itertools.chain.from_iterable(records_backwards(reader, path) for path in reversed(paths))


def select(
    data_dir: str,
    filters: Filters,
    reader: Reader,
    files: Iterable[str] | None = None,
    warn: Warn | None = None,
    newest_first: bool = False,
) -> Iterator[Pair]:
    """Yield the matching captures of the data dir, or of ``files`` when given."""
    if files:
        chosen: Iterable[DayFile | str] = files
    else:
        chosen = day_files(data_dir, CAPTURES, *filters.day_range())
    yield from matching(read(reader, chosen, newest_first), filters, warn=warn, data_dir=data_dir)


def page(pairs: Iterable[Pair], skip: int = 0, size: int = 50) -> tuple[list[Pair], bool]:
    """Return ``size`` pairs after the first ``skip``, and whether more follow; read no further than that."""
    items = list(itertools.islice(pairs, skip, skip + size + 1))
    return items[:size], len(items) > size


def id_day(capture_id: str) -> str:
    """Return the day file name that holds the capture ``capture_id``."""
    return day_name(datetime.fromtimestamp(id_time_ms(capture_id) / 1000, tz=UTC))


def by_ids(data_dir: str, ids: Iterable[str], reader: Reader) -> Iterator[Record]:
    """Yield the captures whose id is in ``ids``, reading only their days' files."""
    wanted = set(ids)
    for day in sorted({id_day(capture_id) for capture_id in wanted}):
        for record in reader.stream(day_files(data_dir, CAPTURES, day, day)):
            if record["id"] in wanted:
                yield record


def check_ids_exist(data_dir: str, ids: Iterable[str], reader: Reader) -> None:
    """Raise ``UnknownCaptureError`` naming the ids of ``ids`` that are in no capture file."""
    missing = set(ids) - {record["id"] for record in by_ids(data_dir, ids, reader)}
    if missing:
        shown = ", ".join(sorted(missing)[:5]) + (" …" if len(missing) > 5 else "")
        where = os.path.join(data_dir, CAPTURES)
        raise UnknownCaptureError(f"unknown capture id{'s' if len(missing) > 1 else ''} {shown} (not in {where})")


def find_capture(data_dir: str, capture_id: str, reader: Reader) -> Record:
    """Return the capture record with ``capture_id``, or raise ``UnknownCaptureError``."""
    for record in by_ids(data_dir, [capture_id], reader):
        return record
    raise UnknownCaptureError(f"unknown capture id {capture_id} (not in {os.path.join(data_dir, CAPTURES)})")
