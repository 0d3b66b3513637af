"""The forwarder: from the captures files to RQ, exactly once, across days, outages, cuts and processes."""

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from datetime import UTC, datetime

import pytest
import redis as redis_lib
from click.testing import CliRunner

from receiver.core import ids, jsonl, layout
from receiver.core import queues as queueing
from receiver.core.settings import load
from receiver.forwarder import backlog, cursor, enqueue, torn
from receiver.forwarder.loop import BATCH_BYTES, Forwarder
from receiver.forwarder.rewind import CHECK_EVERY as REWIND_CHECK_EVERY
from receiver.forwarder.rewind import Rewind
from receiver.web import write as web_write
from scripts.cli import main
from tests.support.batches import job_captures, job_of, queued_captures
from tests.support.capture_factory import capture_id_at
from tests.support.helpers import append_records
from tests.support.procs import StoppableRedis


def capture(capture_id, day="2026-11-28"):
    return {
        "id": capture_id,
        "received_at": f"{day}T23:59:59.000Z",
        "source": "default",
        "body": "[]",
        "content_type": "application/json",
        "size": 2,
    }


def write(data_dir, day, *records):
    append_records(data_dir, "captures", list(records), day=day)


def queued_ids(redis_conn):
    return queued_captures(redis_conn)


def unix(*args):
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.fixture
def settings(env):
    return load(overrides=env)


def test_forwards_new_lines_once_and_remembers_where_it_stopped(settings, data_dir, redis_conn):
    today = layout.day_name()
    write(data_dir, today, capture("A1", today), capture("A2", today))
    assert Forwarder(settings).drain() == 2
    assert Forwarder(settings).drain() == 0  # a new process starts from the saved cursor
    write(data_dir, today, capture("A3", today))
    assert Forwarder(settings).drain() == 1
    assert queued_ids(redis_conn) == ["A1", "A2", "A3"]
    assert cursor.load(data_dir).last_id == "A3"


def test_a_line_still_being_written_waits_until_it_is_complete(settings, data_dir, redis_conn):
    today = layout.day_name()
    path = layout.day_path(data_dir, "captures", today)
    line = jsonl.encode_line(capture("B1", today))
    write(data_dir, today)  # creates the directory
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, line[:10])  # a writer in the middle of its write()
    assert Forwarder(settings).drain() == 0
    os.write(fd, line[10:])
    os.close(fd)
    assert Forwarder(settings).drain() == 1


def test_a_day_is_left_only_after_its_deadline_and_a_lock(data_dir):
    write(data_dir, "2026-11-28", capture("C1"))
    write(data_dir, "2026-11-29", capture("C2", "2026-11-29"))
    start = cursor.Cursor("2026-11-28", 0)
    lines, after = backlog.read_lines(data_dir, start, BATCH_BYTES, now=unix(2026, 11, 28, 23))
    assert [json.loads(line)["id"] for _, line in lines] == ["C1"]
    before_deadline = unix(2026, 11, 29) + layout.WRITE_GRACE - 1
    assert backlog.read_lines(data_dir, after, BATCH_BYTES, now=before_deadline) == ([], after)
    lines, _ = backlog.read_lines(data_dir, after, BATCH_BYTES, now=unix(2026, 11, 29, 0, 5))
    assert [json.loads(line)["id"] for _, line in lines] == ["C2"]
    assert backlog.pending(data_dir, start)[0] == 2


def test_a_writer_that_stalled_past_the_deadline_cannot_append_behind_the_forwarder(settings, data_dir):
    past = datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)
    record = capture("S1")
    with pytest.raises(web_write.DayClosed):
        web_write.write(settings, record, past)  # it is long after the day's deadline now
    assert not os.path.exists(layout.day_path(data_dir, "captures", "2026-11-28"))


def test_the_last_writer_before_the_deadline_is_read_before_the_day_is_left(data_dir):
    write(data_dir, "2026-11-28", capture("L1"))
    write(data_dir, "2026-11-29", capture("L2", "2026-11-29"))
    path = layout.day_path(data_dir, "captures", "2026-11-28")
    position = cursor.Cursor("2026-11-28", os.path.getsize(path))
    holder = threading.Event()

    def late_writer():
        with jsonl.locked(path) as fd:  # a writer that passed the deadline check holds the lock
            holder.set()
            time.sleep(0.3)
            jsonl.locked_append(fd, jsonl.encode_line(capture("L-late")))

    thread = threading.Thread(target=late_writer)
    thread.start()
    holder.wait(5)
    lines, after = backlog.read_lines(data_dir, position, BATCH_BYTES, now=unix(2026, 11, 29, 1))
    thread.join()
    assert [json.loads(line)["id"] for _, line in lines] == ["L-late"] and after.day == "2026-11-28"


def test_redis_outage_keeps_the_cursor_and_a_later_drain_catches_up(settings, env, data_dir, redis_conn):
    today = layout.day_name()
    write(data_dir, today, capture("D1", today), capture("D2", today))
    down = Forwarder(load(overrides={**env, "REDIS_URL": "unix:///nonexistent/r.sock"}))
    assert down.drain() == 0
    assert down.redis_down_since is not None
    assert cursor.load(data_dir) is None
    assert Forwarder(settings).drain() == 2
    assert queued_ids(redis_conn) == ["D1", "D2"]


def test_a_capture_handed_over_again_is_not_queued_twice(settings, data_dir, redis_conn):
    today = layout.day_name()
    write(data_dir, today, capture("E1", today))
    Forwarder(settings).drain()
    os.remove(os.path.join(data_dir, "spool", "cursor.json"))  # as if the cursor save was lost
    Forwarder(settings).drain()
    assert queued_ids(redis_conn) == ["E1"]


def test_a_first_start_begins_at_the_oldest_captures_file(settings, data_dir, redis_conn):
    write(data_dir, "2026-11-20", capture("O1", "2026-11-20"))
    write(data_dir, layout.day_name(), capture("O2", layout.day_name()))
    assert Forwarder(settings).drain() == 2
    assert queued_ids(redis_conn) == ["O1", "O2"]


def test_a_torn_line_is_kept_aside_counted_and_does_not_swallow_the_next_capture(settings, data_dir, redis_conn):
    today = layout.day_name()
    path = layout.day_path(data_dir, "captures", today)
    write(data_dir, today, capture("T1", today))
    with open(path, "ab") as handle:
        handle.write(b'{"id":"T-torn","body":"half a rec')  # a writer killed mid-append
    write(data_dir, today, capture("T2", today))  # the next capture starts on a line of its own
    assert Forwarder(settings).drain() == 2
    assert queued_ids(redis_conn) == ["T1", "T2"]
    assert torn.count(data_dir) == 1
    [kept] = [json.loads(line) for line in open(torn.torn_path(data_dir), encoding="utf-8")]
    assert kept["text"] == '{"id":"T-torn","body":"half a rec' and kept["reason"] == "torn capture line"
    assert Forwarder(settings).drain() == 0 and torn.count(data_dir) == 1  # kept once


def test_a_captures_file_cut_shorter_than_the_cursor_loses_no_new_capture(settings, data_dir, redis_conn):
    today = layout.day_name()
    path = layout.day_path(data_dir, "captures", today)
    now = datetime.now(UTC)
    first = [capture(capture_id_at(now), today) for _ in range(5)]
    write(data_dir, today, *first)
    forwarder = Forwarder(settings)  # one forwarder that lives through the cut
    assert forwarder.drain() == 5
    keep = sum(len(jsonl.encode_line(record)) for record in first[:2])
    os.truncate(path, keep)  # a power cut took the tail back
    after_cut = [capture(capture_id_at(now), today) for _ in range(5)]
    write(data_dir, today, *after_cut)  # the file grows past the old cursor again, a line end right at it
    assert forwarder.drain() == 5
    assert set(queued_ids(redis_conn)) == {r["id"] for r in first + after_cut}


def test_a_cursor_past_the_end_of_its_file_moves_back(settings, data_dir, redis_conn):
    today = layout.day_name()
    write(data_dir, today, capture("P1", today))
    cursor.save(data_dir, cursor.Cursor(today, 10_000, "P0"))
    assert Forwarder(settings).drain() == 1
    assert queued_ids(redis_conn) == ["P1"]


def test_only_one_process_leads(settings):
    first, second = Forwarder(settings), Forwarder(settings)
    assert first.try_lead()
    assert not second.try_lead()
    first.release()
    assert second.try_lead()
    second.release()


def test_enqueue_if_absent_is_atomic_under_races(settings, redis_conn):
    records = [capture(ids.new_id()) for _ in range(200)]

    def hand_over():
        queue = queueing.get_queue(settings)
        for start in range(0, len(records), 20):
            enqueue.enqueue_absent(queue, records[start : start + 40], settings)

    threads = [threading.Thread(target=hand_over) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(queued_ids(redis_conn)) == sorted(r["id"] for r in records)


def test_forward_once_command(settings, env, data_dir, redis_conn, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    today = layout.day_name()
    write(data_dir, today, capture("G1", today))
    result = CliRunner().invoke(main, ["forward", "--once"])
    assert result.exit_code == 0, result.output
    assert "handed 1 captures" in result.output
    job = job_of(redis_conn, "G1")
    assert job.origin == "smartech" and job_captures(job) == ["G1"]
    monkeypatch.setenv("REDIS_URL", "unix:///nonexistent/r.sock")
    write(data_dir, today, capture("G2", today))
    result = CliRunner().invoke(main, ["forward", "--once"])
    assert result.exit_code == 1 and "REDIS_URL" in result.output


def test_counting_the_backlog_stops_after_the_scan_limit(data_dir):
    today = layout.day_name()
    write(data_dir, today, *[capture(f"H{i}", today) for i in range(50)])
    start = cursor.Cursor(today, 0)
    assert backlog.pending(data_dir, start)[0] == 50
    lower_bound, _ = backlog.pending(data_dir, start, max_scan=1)
    assert 1 <= lower_bound < 50
    stamped = capture_id_at(datetime.now(UTC))
    write(data_dir, today, capture(stamped, today))
    _, oldest = backlog.pending(
        data_dir,
        cursor.Cursor(
            today,
            os.path.getsize(layout.day_path(data_dir, "captures", today))
            - len(jsonl.encode_line(capture(stamped, today))),
        ),
    )
    assert abs((datetime.now(UTC) - oldest).total_seconds()) < 5


def test_a_redis_that_restarted_without_its_latest_writes_gets_those_captures_again(env, data_dir, tmp_path):
    box = StoppableRedis(tempfile.mkdtemp(prefix="sdw-", dir="/tmp"))
    try:
        settings = load(overrides={**env, "REDIS_URL": box.url})
        forwarder = Forwarder(settings)
        today = layout.day_name()
        write(data_dir, today, *[capture(f"R{n}", today) for n in range(5)])
        assert forwarder.drain() == 5
        box.stop(signal.SIGKILL)  # killed, and its append-only file never got the last writes
        shutil.rmtree(os.path.join(box.workdir, "appendonlydir"), ignore_errors=True)
        write(data_dir, today, capture("R5", today))  # arrives during the outage
        assert forwarder.drain() == 0 and forwarder.redis_down_since is not None
        box.start()
        assert forwarder.drain() == 6  # a new run_id: the last seconds' captures are handed over again
        assert sorted(queued_ids(redis_lib.Redis.from_url(box.url))) == [f"R{n}" for n in range(6)]
        assert forwarder.drain() == 0  # and only once
    finally:
        box.stop(signal.SIGKILL)


def test_a_quick_restart_between_two_passes_is_found_by_the_periodic_check(env, data_dir):
    box = StoppableRedis(tempfile.mkdtemp(prefix="sdw-", dir="/tmp"))
    try:
        forwarder = Forwarder(load(overrides={**env, "REDIS_URL": box.url}))
        now = [0.0]
        forwarder.rewind = Rewind(clock=lambda: now[0])
        today = layout.day_name()
        write(data_dir, today, capture("Q1", today))
        assert forwarder.drain() == 1
        box.stop(signal.SIGKILL)
        shutil.rmtree(os.path.join(box.workdir, "appendonlydir"), ignore_errors=True)
        box.start()  # the forwarder never saw it down
        now[0] += REWIND_CHECK_EVERY
        assert forwarder.drain() == 1
        assert queued_ids(redis_lib.Redis.from_url(box.url)) == ["Q1"]
    finally:
        box.stop(signal.SIGKILL)
