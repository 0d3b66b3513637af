"""The continuous audit: the books of the recent window, kept in spool/audit.json, due, fresh, never raising."""

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from receiver.core.settings import load
from receiver.forwarder.loop import Forwarder
from receiver.ops import watch
from receiver.web import create_app
from tests.support.helpers import basic

BODY = "data=%7B%22smartech%22%3A%5B%7B%22webhook_name%22%3A%22EMAIL_OPEN%22%7D%5D%7D"


def post(client):
    answer = client.post(
        "/webhook",
        data=BODY,
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic()},
    )
    assert answer.status_code == 200
    return answer.get_json()["id"]


@pytest.fixture
def settings(env):
    return load(environ={}, overrides={**env, "DUMPER_AUDIT_EVERY": "60s", "DUMPER_AUDIT_STUCK_AFTER": "10m"})


def test_a_job_flushed_from_redis_is_missing_and_kept_in_the_spool(env, settings, redis_conn):
    client = create_app(env).test_client()
    ids = [post(client), post(client)]
    Forwarder(settings).drain()
    now = datetime.now(UTC) + timedelta(seconds=1)
    result = watch.run(settings, redis_conn, now)
    assert result["counts"]["queued"] == 2 and result["counts"]["missing"] == 0
    redis_conn.flushdb()  # as a Redis that lost its data would
    result = watch.run(settings, redis_conn, now)
    assert result["counts"]["captures"] == 2 and result["counts"]["missing"] == 2
    assert sorted(result["missing"]) == sorted(ids) and result["stuck"] == []
    with open(watch.state_path(settings.data_dir), encoding="utf-8") as handle:
        assert json.load(handle) == result
    assert watch.last(settings.data_dir) == result
    counts = watch.counts(settings, now.timestamp() + 5)
    assert counts["missing"] == 2 and "missing" not in {k for k, v in counts.items() if isinstance(v, list)}
    assert counts["age_seconds"] == pytest.approx(5) and counts["window_seconds"] == 3000


def test_captures_waiting_past_the_threshold_are_stuck(env, settings, redis_conn):
    client = create_app(env).test_client()
    capture_id = post(client)
    Forwarder(settings).drain()
    later = datetime.now(UTC) + timedelta(minutes=11)
    result = watch.run(settings, redis_conn, later)
    assert result["stuck"] == [capture_id] and result["counts"]["stuck"] == 1
    outside = watch.run(settings, redis_conn, datetime.now(UTC) + timedelta(hours=2))
    assert outside["counts"]["captures"] == 0  # older than the window


def test_due_and_fresh_follow_audit_every(settings, redis_conn):
    now = float(int(time.time()))  # whole seconds: a datetime keeps microseconds only
    assert watch.due(settings, now) and watch.fresh(settings, now) is None
    watch.run(settings, redis_conn, datetime.fromtimestamp(now, UTC))
    assert not watch.due(settings, now + 59) and watch.due(settings, now + 60)
    assert watch.fresh(settings, now + 180) is not None and watch.fresh(settings, now + 181) is None


def test_off_means_never_due_and_nothing_shown(env, redis_conn):
    settings = load(environ={}, overrides={**env, "DUMPER_AUDIT_WINDOW": "off"})
    assert watch.run(settings, redis_conn, datetime.now(UTC)) is None
    assert not watch.due(settings, time.time()) and watch.counts(settings, time.time()) is None


def test_an_audit_that_fails_is_logged_and_writes_nothing(env, caplog):
    settings = load(environ={}, overrides={**env, "REDIS_URL": "unix:///nonexistent/r.sock"})
    from receiver.core import queues as queueing

    assert watch.run(settings, queueing.connect(settings), datetime.now(UTC)) is None
    assert "continuous audit failed" in caplog.text
    assert not os.path.exists(watch.state_path(settings.data_dir))


def test_an_unreadable_result_is_ignored(settings):
    os.makedirs(os.path.dirname(watch.state_path(settings.data_dir)))
    with open(watch.state_path(settings.data_dir), "w", encoding="utf-8") as handle:
        handle.write("{torn")
    assert watch.last(settings.data_dir) is None and watch.due(settings, time.time())
