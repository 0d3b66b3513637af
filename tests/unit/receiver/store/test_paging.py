"""Newest-first pages of the store (the inspector's list): positions, compression in between, budget, arrivals."""

import os

import pytest

from receiver.ops.gzday import compress
from receiver.store.filters import Filters
from receiver.store.paging import BadPosition, Position, arrivals, newest_page
from receiver.store.select import capture_reader, select
from tests.support.capture_factory import days_ago, make_capture, smartech_body, write_captures, write_gz


@pytest.fixture
def captures(data_dir):
    """Write 30 captures yesterday (plain) and 10 the day before (gzipped)."""
    older = [make_capture(days_ago(2, hour=h), smartech_body(foreignkey=str(h))) for h in range(10)]
    write_gz(data_dir, "captures", older[0]["received_at"][:10], older)
    newer = [
        make_capture(days_ago(1).replace(hour=h // 2, minute=h), smartech_body(foreignkey=str(h))) for h in range(30)
    ]
    return older + write_captures(data_dir, newer)


def every_page(data_dir, filters=None, size=7, **options):
    """Return the ids of every page, following ``next``, and how many pages it took."""
    ids, before, pages, reader = [], None, 0, capture_reader()
    while True:
        page = newest_page(data_dir, filters or Filters(), reader, size, before, **options)
        ids += [record["id"] for record, _ in page.items]
        pages += 1
        if page.next is None:
            return ids, pages
        before = Position.parse(page.next.token())


def test_pages_cover_every_capture_newest_first_once(captures, data_dir):
    ids, pages = every_page(data_dir)
    assert ids == [record["id"] for record in reversed(captures)] and pages == 6
    assert ids == [record["id"] for record, _ in select(data_dir, Filters(), capture_reader(), newest_first=True)]


def test_a_page_out_of_time_goes_on_where_it_stopped(captures, data_dir):
    ids, pages = every_page(data_dir, Filters(foreignkeys=("3",)), budget=0)
    assert ids == [captures[13]["id"], captures[3]["id"]] and pages == len(captures) + 1


def test_a_position_survives_the_compression_of_its_day(captures, data_dir):
    page = newest_page(data_dir, Filters(), capture_reader(), 5)
    plain = os.path.join(data_dir, "captures", captures[-1]["received_at"][:10] + ".jsonl")
    compress(plain)  # as `smartech-dumper compress` does: the .jsonl becomes a .jsonl.gz
    assert not os.path.exists(plain)
    later = write_captures(data_dir, [make_capture(days_ago(1).replace(hour=23), smartech_body())])  # a new .jsonl
    rest = newest_page(data_dir, Filters(), capture_reader(), 100, page.next)
    assert [record["id"] for record, _ in rest.items] == [record["id"] for record in reversed(captures[:-5])]
    assert later[0]["id"] not in [record["id"] for record, _ in rest.items]


def test_a_bare_id_is_a_position_too(captures, data_dir):
    page = newest_page(data_dir, Filters(), capture_reader(), 3, Position.parse(captures[20]["id"].lower()))
    assert [record["id"] for record, _ in page.items] == [captures[i]["id"] for i in (19, 18, 17)]
    with pytest.raises(BadPosition):
        Position.parse("01M8M3H0SA4VP1YR7FK6FJM64Q.2.5")


def test_skip_since_and_a_line_still_being_written(captures, data_dir):
    with open(os.path.join(data_dir, "captures", captures[-1]["received_at"][:10] + ".jsonl"), "ab") as handle:
        handle.write(b'{"id":"01M8M3H0SA4VP1YR7FK6FJM64Q","rec')  # a writer mid-line: not a warning
    warnings = []
    page = newest_page(data_dir, Filters(), capture_reader(warnings.append), 3, skip=3)
    assert [record["id"] for record, _ in page.items] == [captures[i]["id"] for i in (36, 35, 34)] and not warnings
    since = captures[-1]["received_at"][:10]
    assert len(newest_page(data_dir, Filters(since=since), capture_reader(), 100).items) == 30


def test_arrivals_are_the_captures_after_the_newest_shown(captures, data_dir):
    shown = Position(captures[-1]["id"])
    fresh = write_captures(data_dir, [make_capture(days_ago(0, hour=0), smartech_body(foreignkey="7"))])
    other = write_captures(data_dir, [make_capture(days_ago(0, hour=0).replace(minute=1), smartech_body())])
    items, newest = arrivals(data_dir, Filters(foreignkeys=("7",)), capture_reader(), shown)
    assert [record["id"] for record, _ in items] == [fresh[0]["id"]] and newest == other[0]["id"]
    assert arrivals(data_dir, Filters(), capture_reader(), Position(newest)) == ([], None)
    items, _ = arrivals(data_dir, Filters(), capture_reader(), days_ago(0, hour=0))
    assert [record["id"] for record, _ in items] == [other[0]["id"], fresh[0]["id"]]
