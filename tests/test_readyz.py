"""GET /readyz reports Redis, queue depth, backlog, dead letters and disk; 503 when not ready."""
from receiver import create_app, jsonl
from receiver.forwarder import Forwarder
from receiver.settings import load
from tests.helpers import basic


def post(client):
    return client.post("/webhook", data="data=%7B%7D", content_type="application/x-www-form-urlencoded",
                       headers={"Authorization": basic()})


def test_ready_with_counts(env, data_dir, redis_conn):
    client = create_app(env).test_client()
    post(client)
    post(client)
    state = client.get("/readyz")
    assert state.status_code == 200
    body = state.get_json()
    assert body["ready"] is True
    assert body["redis"]["reachable"] is True and body["redis"]["queue_depth"] == 0
    assert body["redis"]["failed_count"] == 0
    # The test server keeps nothing on disk: RQ would lose queued jobs on a restart.
    assert any("keeps nothing on disk" in w for w in body["redis"]["warnings"])
    assert body["backlog"]["awaiting_enqueue"] == 2 and body["backlog"]["oldest_age_seconds"] >= 0
    assert body["disk"]["writable"] is True and body["disk"]["free_bytes"] > 0
    Forwarder(load(overrides=env)).drain()
    body = client.get("/readyz").get_json()
    assert body["backlog"]["awaiting_enqueue"] == 0 and body["redis"]["queue_depth"] == 2


def test_not_ready_without_redis(env):
    env["REDIS_URL"] = "unix:///nonexistent/r.sock"
    state = create_app(env).test_client().get("/readyz")
    assert state.status_code == 503
    assert state.get_json()["redis"]["reachable"] is False
    assert "nonexistent" in state.get_json()["redis"]["error"]


def test_not_ready_when_the_captures_dir_cannot_be_written(env, data_dir):
    jsonl.ensure_dir(data_dir)
    open(f"{data_dir}/captures", "w").close()  # a file where the directory should be
    state = create_app(env).test_client().get("/readyz")
    assert state.status_code == 503 and state.get_json()["disk"]["writable"] is False


def test_not_ready_when_free_space_is_below_the_minimum(env):
    env["DUMPER_MIN_FREE_BYTES"] = str(10 ** 18)
    state = create_app(env).test_client().get("/readyz")
    assert state.status_code == 503 and state.get_json()["disk"]["writable"] is True


def test_readyz_is_for_monitors_not_smartech(env):
    # Monitors live outside Smartech's allowlist; the README tells the proxy not to expose /readyz.
    env["DUMPER_ALLOWED_IPS"] = "10.0.0.0/8"
    client = create_app(env).test_client()
    assert client.get("/readyz", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200
