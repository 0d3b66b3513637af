"""Redis Sentinel: the web side, the forwarder and the workers follow a failover with no restart."""

import os
import signal
import tempfile

import pytest

from receiver.core import queues as queueing
from receiver.core.settings import SettingsError, load
from tests.support.helpers import read_kind, wait_until
from tests.support.procs import Web, post_event, start_worker, stop
from tests.support.sentinel import SentinelCluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster():
    running = SentinelCluster(tempfile.mkdtemp(prefix="sds-", dir="/tmp"))
    yield running
    running.stop()


def test_sentinels_without_a_master_name_stop_the_start():
    with pytest.raises(SettingsError, match="^REDIS_SENTINEL_MASTER:"):
        load(environ={"REDIS_SENTINELS": "127.0.0.1:26379"})
    with pytest.raises(SettingsError, match="^REDIS_SENTINELS: expected host:port"):
        load(environ={"REDIS_SENTINELS": "somewhere", "REDIS_SENTINEL_MASTER": "m"})


def test_a_failover_loses_nothing_and_needs_no_restart(cluster, env, data_dir):
    full = {**os.environ, **env, **cluster.env(), "DUMPER_FORWARDER": "true", "DUMPER_REDIS_TIMEOUT": "0.5"}
    settings = load(full)
    assert queueing.connect(settings).ping()
    web = Web(full)
    worker = start_worker(full)
    try:
        before = [f"before-{n}" for n in range(20)]
        assert all(post_event(web.url, guid).status_code == 200 for guid in before)
        wait_until(lambda: {e["event_id"] for e in read_kind(data_dir, "events")} >= set(before), timeout=60)
        old = cluster.kill_master()
        cluster.wait(lambda: cluster.master_port() not in (None, cluster.ports[old]), timeout=30)
        after = [f"after-{n}" for n in range(20)]
        assert all(post_event(web.url, guid).status_code == 200 for guid in after)  # never waits for Redis
        wait_until(lambda: {e["event_id"] for e in read_kind(data_dir, "events")} >= set(before + after), timeout=90)
        assert worker.poll() is None
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        stop(worker)
        web.stop()
    ids = [e["event_id"] for e in read_kind(data_dir, "events")]
    assert sorted(ids) == sorted(set(ids))  # exactly once
