"""The customers' timeline index: kept in step by the worker, caught up and rebuilt from the files, newest first."""

import os
import sqlite3

import pytest

from jobs.process import run
from receiver.core import layout
from receiver.core.settings import load
from receiver.ledger import timeline
from receiver.ops import gzday
from tests.support.capture_factory import CUSTOMER, days_ago, make_capture, smartech_body

OTHER = "8888888888"


@pytest.fixture
def written(env, data_dir):
    """Process captures of three days (two of CUSTOMER a day, one of OTHER) with the worker's code; return them."""
    settings = load(environ=env)
    captures = []
    for age in (3, 2, 1):
        when = days_ago(age)
        captures += [
            make_capture(when.replace(hour=9), smartech_body("SMS_CLICK")),
            make_capture(when.replace(hour=10), smartech_body("EMAIL_OPEN")),
            make_capture(when.replace(hour=11), smartech_body("APN_VIEW", foreignkey=OTHER)),
        ]
    run(settings, captures)
    return captures


def rows_in_index(data_dir):
    """Return how many rows the index holds, read without catching up."""
    connection = sqlite3.connect(layout.spool_path(data_dir, layout.TIMELINE_FILE))
    try:
        return connection.execute("SELECT COUNT(*) FROM timeline").fetchone()[0]
    finally:
        connection.close()


def test_the_worker_keeps_it_in_step_and_a_customer_reads_newest_first(written, data_dir):
    assert rows_in_index(data_dir) == 9  # written by the worker, before any reader
    events = timeline.customer_events(data_dir, CUSTOMER, 100)
    mine = [capture["id"] for capture in written if OTHER not in capture["body"]]
    assert [event["capture_id"] for event in events] == mine[::-1]
    assert [event["activity"] for event in events[:2]] == ["open", "click"]
    assert {event["day"] for event in events} == {days_ago(age).strftime("%Y-%m-%d") for age in (1, 2, 3)}
    assert [event["capture_id"] for event in timeline.customer_events(data_dir, OTHER, 100)] == [
        capture["id"] for capture in written if OTHER in capture["body"]
    ][::-1]


def test_pages_go_on_where_the_last_ended(written, data_dir):
    first = timeline.customer_events(data_dir, CUSTOMER, 4)
    last = first[-1]
    rest = timeline.customer_events(data_dir, CUSTOMER, 4, (last["received_at"], last["event_id"]))
    assert len(first) == 4 and len(rest) == 2 and not {e["event_id"] for e in first} & {e["event_id"] for e in rest}


def test_the_index_holds_no_id_in_plain(written, data_dir):
    with open(layout.spool_path(data_dir, layout.TIMELINE_FILE), "rb") as handle:
        assert CUSTOMER.encode() not in handle.read()


def test_deleted_it_is_rebuilt_from_the_files_and_compressing_a_day_adds_nothing(written, data_dir):
    before = timeline.customer_events(data_dir, CUSTOMER, 100)
    for name in os.listdir(layout.spool_dir(data_dir)):
        if name.startswith(layout.TIMELINE_FILE):
            os.unlink(layout.spool_path(data_dir, name))
    assert timeline.customer_events(data_dir, CUSTOMER, 100) == before
    gzday.compress(layout.day_path(data_dir, layout.EVENTS, days_ago(3).strftime("%Y-%m-%d")))
    assert timeline.customer_events(data_dir, CUSTOMER, 100) == before


def test_a_pruned_day_leaves_the_timeline(written, data_dir):
    os.unlink(layout.day_path(data_dir, layout.EVENTS, days_ago(3).strftime("%Y-%m-%d")))
    assert len(timeline.customer_events(data_dir, CUSTOMER, 100)) == 4
