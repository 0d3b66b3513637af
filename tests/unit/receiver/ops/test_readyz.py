"""GET /readyz reports Redis, queue, retries, dead letters, backlog, forwarder and disk; 503 when not ready."""

import os
import time

from receiver.core import jsonl
from receiver.core.settings import load
from receiver.forwarder import heartbeat
from receiver.forwarder.loop import Forwarder
from receiver.ops import readiness as status
from receiver.web import create_app
from tests.support.helpers import basic


def post(client):
    return client.post(
        "/webhook",
        data="data=%7B%7D",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": basic()},
    )


def fresh(client):
    """Return /readyz once its cache has expired."""
    time.sleep(status.CACHE_SECONDS)
    return client.get("/readyz")


def test_ready_with_counts(env, data_dir, redis_conn):
    client = create_app(env).test_client()
    post(client)
    post(client)
    state = client.get("/readyz")
    assert state.status_code == 200
    body = state.get_json()
    assert body["ready"] is True
    assert body["redis"]["reachable"] is True and body["redis"]["queue_depth"] == 0
    assert body["redis"]["failed_count"] == 0 and body["redis"]["retrying"] == 0
    # The test server keeps nothing on disk: RQ would lose queued jobs on a restart.
    assert any("keeps nothing on disk" in w for w in body["redis"]["warnings"])
    assert body["backlog"]["awaiting_enqueue"] == 2 and 0 <= body["backlog"]["oldest_age_seconds"] < 60
    assert body["backlog"]["torn_lines"] == 0
    assert body["disk"]["writable"] is True and body["disk"]["free_bytes"] > 0
    Forwarder(load(overrides=env)).drain()
    body = fresh(client).get_json()
    assert body["backlog"]["awaiting_enqueue"] == 0 and body["redis"]["queue_depth"] == 1  # one job, two captures


def test_a_flood_of_probes_is_answered_from_a_cache(env, data_dir, redis_conn):
    client = create_app(env).test_client()
    assert client.get("/readyz").get_json()["backlog"]["awaiting_enqueue"] == 0
    post(client)
    assert client.get("/readyz").get_json()["backlog"]["awaiting_enqueue"] == 0  # the cached answer
    assert fresh(client).get_json()["backlog"]["awaiting_enqueue"] == 1


def test_not_ready_without_redis_and_no_error_text_for_strangers(env):
    env["REDIS_URL"] = "unix:///nonexistent/r.sock"
    state = create_app(env).test_client().get("/readyz")
    assert state.status_code == 503
    assert state.get_json()["redis"]["reachable"] is False
    assert "nonexistent" not in state.get_data(as_text=True)


def test_not_ready_without_a_live_forwarder(env, data_dir, redis_conn):
    env["DUMPER_FORWARDER"] = "true"
    client = create_app(env).test_client()
    body = client.get("/readyz").get_json()
    assert body["ready"] is False and body["forwarder"]["heartbeat_age_seconds"] is None
    forwarder = Forwarder(load(overrides=env))
    forwarder.drain()
    forwarder.beat()
    body = fresh(client).get_json()
    assert body["ready"] is True and body["forwarder"]["alive"] is True
    stale = time.time() - status.FORWARDER_STALE_AFTER - 1
    os.utime(heartbeat.path(data_dir), (stale, stale))
    body = fresh(client).get_json()
    assert body["ready"] is False and body["forwarder"]["heartbeat_age_seconds"] > status.FORWARDER_STALE_AFTER


def test_not_ready_when_the_captures_dir_cannot_be_written(env, data_dir):
    jsonl.ensure_dir(data_dir)
    open(f"{data_dir}/captures", "w").close()  # a file where the directory should be
    state = create_app(env).test_client().get("/readyz")
    assert state.status_code == 503 and state.get_json()["disk"]["writable"] is False


def test_not_ready_when_free_space_is_below_the_minimum(env):
    env["DUMPER_MIN_FREE_BYTES"] = str(10**18)
    state = create_app(env).test_client().get("/readyz")
    assert state.status_code == 503 and state.get_json()["disk"]["writable"] is True


def test_readyz_is_for_monitors_not_smartech(env):
    # Monitors live outside Smartech's allowlist; the README tells the proxy not to expose /readyz.
    env["DUMPER_ALLOWED_IPS"] = "10.0.0.0/8"
    client = create_app(env).test_client()
    assert client.get("/readyz", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200


def test_refused_posts_and_the_audit_are_shown_but_leave_it_ready(env, data_dir, redis_conn):
    from datetime import UTC, datetime

    from receiver.ops import watch

    env.update(DUMPER_QUARANTINE="true")
    client = create_app(env).test_client()
    body = client.get("/readyz").get_json()
    assert body["quarantine"] == {"posts": 0, "bytes": 0, "recent": 0, "newest_age_seconds": None}
    assert body["audit"] is None  # not run yet
    opened = "data=%7B%22smartech%22%3A%5B%7B%22webhook_name%22%3A%22EMAIL_OPEN%22%7D%5D%7D"  # one event
    client.post(
        "/webhook", data=opened, content_type="application/x-www-form-urlencoded", headers={"Authorization": basic()}
    )
    wrong = client.post("/webhook", data="data=%7B%7D", content_type="application/x-www-form-urlencoded")
    assert wrong.status_code == 401
    Forwarder(load(overrides=env)).drain()
    redis_conn.flushdb()  # the job is lost: the audit finds the capture missing
    watch.run(load(overrides=env), redis_conn, datetime.now(UTC))
    state = fresh(client)
    body = state.get_json()
    assert state.status_code == 200 and body["ready"] is True  # warnings, not unreadiness
    assert body["quarantine"]["posts"] == 1 and body["quarantine"]["recent"] == 1 and body["quarantine"]["bytes"] > 0
    assert body["audit"]["missing"] == 1 and body["audit"]["captures"] == 1 and body["audit"]["stuck"] == 0
    assert all(isinstance(each, int | float) for each in body["audit"].values())  # counts only: never an id


def test_without_quarantine_or_audit_the_fields_are_null(env):
    env.update(DUMPER_AUDIT_WINDOW="off")
    body = create_app(env).test_client().get("/readyz").get_json()
    assert body["quarantine"] is None and body["audit"] is None
