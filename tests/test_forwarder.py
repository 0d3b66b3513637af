"""The forwarder: from the captures files to RQ, exactly once, across days, outages and processes."""
import json
import os
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from receiver import cursor, jsonl
from receiver.forwarder import Forwarder
from receiver.settings import load
from scripts.cli import main


def capture(capture_id, day="2026-11-28"):
    return {"id": capture_id, "received_at": f"{day}T23:59:59.000Z", "source": "default", "body": "[]",
            "content_type": "application/json", "size": 2}


def write(data_dir, day, *records):
    jsonl.append_records(data_dir, "captures", list(records), day=day)


def queued_ids(redis_conn):
    return [i.decode() for i in redis_conn.lrange("rq:queue:smartech", 0, -1)]


@pytest.fixture
def settings(env):
    return load(overrides=env)


def test_forwards_new_lines_once_and_remembers_where_it_stopped(settings, data_dir, redis_conn):
    today = jsonl.day_name()
    write(data_dir, today, capture("A1", today), capture("A2", today))
    assert Forwarder(settings).drain() == 2
    assert Forwarder(settings).drain() == 0  # a new process starts from the saved cursor
    write(data_dir, today, capture("A3", today))
    assert Forwarder(settings).drain() == 1
    assert queued_ids(redis_conn) == ["A1", "A2", "A3"]


def test_a_half_written_line_waits_until_it_is_complete(settings, data_dir, redis_conn):
    today = jsonl.day_name()
    path = jsonl.day_path(data_dir, "captures", today)
    line = jsonl.encode_line(capture("B1", today))
    jsonl.append_lines(path, [line[:10]])
    assert Forwarder(settings).drain() == 0
    jsonl.append_lines(path, [line[10:]])
    assert Forwarder(settings).drain() == 1


def test_moves_to_the_next_day_only_after_the_grace(data_dir):
    write(data_dir, "2026-11-28", capture("C1"))
    write(data_dir, "2026-11-29", capture("C2", "2026-11-29"))
    start = cursor.Cursor("2026-11-28", 0)
    lines, after = cursor.read_lines(data_dir, start)
    assert [json.loads(x)["id"] for x in lines] == ["C1"]
    just_after_midnight = datetime(2026, 11, 29, 0, 0, 30, tzinfo=timezone.utc)
    assert cursor.read_lines(data_dir, after, now=just_after_midnight) == ([], after)
    later = datetime(2026, 11, 29, 0, 5, tzinfo=timezone.utc)
    lines, _ = cursor.read_lines(data_dir, after, now=later)
    assert [json.loads(x)["id"] for x in lines] == ["C2"]
    assert cursor.pending(data_dir, start, now=later)[0] == 2


def test_redis_outage_keeps_the_cursor_and_a_later_drain_catches_up(settings, env, data_dir, redis_conn):
    today = jsonl.day_name()
    write(data_dir, today, capture("D1", today), capture("D2", today))
    down = Forwarder(load(overrides={**env, "REDIS_URL": "unix:///nonexistent/r.sock"}))
    assert down.drain() == 0
    assert down.redis_down_since is not None
    assert cursor.load(data_dir).offset == 0
    assert Forwarder(settings).drain() == 2
    assert queued_ids(redis_conn) == ["D1", "D2"]


def test_a_capture_handed_over_again_is_not_queued_twice(settings, data_dir, redis_conn):
    today = jsonl.day_name()
    write(data_dir, today, capture("E1", today))
    Forwarder(settings).drain()
    os.remove(os.path.join(data_dir, "spool", "cursor.json"))  # as if the cursor save was lost
    Forwarder(settings).drain()
    assert queued_ids(redis_conn) == ["E1"]


def test_corrupt_lines_are_skipped(settings, data_dir, redis_conn):
    today = jsonl.day_name()
    path = jsonl.day_path(data_dir, "captures", today)
    jsonl.append_lines(path, [b"{not json\n", jsonl.encode_line(capture("F1", today))])
    assert Forwarder(settings).drain() == 1
    assert queued_ids(redis_conn) == ["F1"]


def test_only_one_process_leads(settings):
    first, second = Forwarder(settings), Forwarder(settings)
    assert first.try_lead()
    assert not second.try_lead()
    first.release()
    assert second.try_lead()
    second.release()


def test_forward_once_command(settings, env, data_dir, redis_conn, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    today = jsonl.day_name()
    write(data_dir, today, capture("G1", today))
    result = CliRunner().invoke(main, ["forward", "--once"])
    assert result.exit_code == 0, result.output
    assert "handed 1 captures" in result.output
    job_data = redis_conn.hgetall("rq:job:G1")
    assert job_data and job_data[b"origin"] == b"smartech"
    monkeypatch.setenv("REDIS_URL", "unix:///nonexistent/r.sock")
    write(data_dir, today, capture("G2", today))
    result = CliRunner().invoke(main, ["forward", "--once"])
    assert result.exit_code == 1 and "REDIS_URL" in result.output


def test_counting_the_backlog_stops_after_the_scan_limit(data_dir):
    today = jsonl.day_name()
    write(data_dir, today, *[capture(f"H{i}", today) for i in range(50)])
    start = cursor.Cursor(today, 0)
    assert cursor.pending(data_dir, start)[0] == 50
    lower_bound, oldest = cursor.pending(data_dir, start, max_scan=1)
    assert 1 <= lower_bound < 50 and oldest is not None
