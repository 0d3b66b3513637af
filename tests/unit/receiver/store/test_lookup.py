"""Finding one capture by id in bounded time (``receiver/store/lookup.py``) over real day files, plain and gzipped."""

import os
from datetime import timedelta

import pytest

from receiver.core import jsonl, layout
from receiver.store.lookup import LookupTimeout, find_capture
from receiver.store.select import UnknownCaptureError, capture_reader
from receiver.store.select import find_capture as whole_day_find
from tests.support.capture_factory import capture_id_at, days_ago, make_capture, write_gz

COUNT = 3000  # about 700 KB a day: well past one bisection step
STEP = timedelta(seconds=20)


def records_of_a_day(count=COUNT):
    """Return ``count`` small captures, one each ``STEP`` from 00:10, in time order."""
    base, start = make_capture(days_ago(1, hour=0), b"data=x"), days_ago(1, hour=0) + timedelta(minutes=10)
    out = []
    for i in range(count):
        when = start + i * STEP
        out.append(dict(base, id=capture_id_at(when), received_at=when.isoformat(timespec="milliseconds")[:23] + "Z"))
    return out


def write_lines(data_dir, day, lines):
    """Write raw ``lines`` as the plain captures file of ``day``; return its path."""
    path = layout.day_path(data_dir, "captures", day)
    jsonl.ensure_dir(os.path.dirname(path))
    with open(path, "wb") as handle:
        handle.writelines(lines)
    return path


def day_of(records):
    return records[0]["received_at"][:10]


def test_every_capture_is_found_as_a_whole_read_finds_it_even_a_little_out_of_order(data_dir):
    records = records_of_a_day()
    # A capture written 100 s late (a slow body), behind five later ones: within the write grace.
    late = records.pop(1500)
    records.insert(1505, late)
    lines = [jsonl.encode_line(record) for record in records]
    lines.insert(700, b"not json, and no id at its start\n")
    lines.insert(2200, b'{"received_at": "x", "id": "' + records[2200]["id"].encode() + b'"}\n')
    write_lines(data_dir, day_of(records), lines)
    reader = capture_reader()
    for record in records[::97] + [late, records[0], records[-1]]:
        assert find_capture(data_dir, record["id"], reader) == whole_day_find(data_dir, record["id"], reader)


def test_an_id_in_no_line_is_unknown_and_a_gz_day_is_searched_with_the_plain_one(data_dir):
    records = records_of_a_day()
    write_gz(data_dir, "captures", day_of(records), records[:1000])
    write_lines(data_dir, day_of(records), [jsonl.encode_line(record) for record in records[1000:]])
    reader = capture_reader()
    assert find_capture(data_dir, records[10]["id"], reader)["id"] == records[10]["id"]
    assert find_capture(data_dir, records[2990]["id"], reader)["id"] == records[2990]["id"]
    absent = capture_id_at(days_ago(1, hour=0) + timedelta(minutes=10) + 1500 * STEP + timedelta(seconds=1))
    with pytest.raises(UnknownCaptureError, match=f"unknown capture id {absent}"):
        find_capture(data_dir, absent, reader)


def test_a_search_out_of_time_says_how_far_it_read(data_dir):
    records = records_of_a_day()
    write_gz(data_dir, "captures", day_of(records), records)
    with pytest.raises(LookupTimeout, match=r"not found within the 0 s a lookup may take \(256 lines of .*\.gz read\)"):
        find_capture(data_dir, records[-1]["id"], capture_reader(), budget=0)
