"""``redis_config_warnings`` against the real private Redis (started with --save "" --appendonly no)."""

import pytest
import redis as redis_lib

from receiver.core.queues import connect
from receiver.core.settings import load
from receiver.ops.redis_health import redis_config_warnings

NO_DISK = "Redis keeps nothing on disk (no RDB snapshots, no AOF): a restart loses every queued job"
EVICTION = "Redis may evict keys (maxmemory-policy=allkeys-lru): RQ loses queued jobs silently"
LIMITED_USER, LIMITED_PASSWORD = "no-config", "p@ss word"


@pytest.fixture
def restore_config(redis_conn):
    """Give the test the shared server and put back the settings it may change."""
    saved = {key: redis_conn.config_get(key)[key] for key in ("maxmemory-policy", "appendonly", "save")}
    yield redis_conn
    for key, value in saved.items():
        redis_conn.config_set(key, value)


@pytest.fixture
def limited_conn(redis_conn, redis_url):
    """Yield a client logged in as an ACL user that may not run CONFIG, as on managed Redis."""
    redis_conn.acl_setuser(
        LIMITED_USER,
        enabled=True,
        passwords=[f"+{LIMITED_PASSWORD}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-config"],
    )
    client = redis_lib.Redis(
        unix_socket_path=redis_url.removeprefix("unix://"), username=LIMITED_USER, password=LIMITED_PASSWORD
    )
    yield client
    client.close()
    redis_conn.acl_deluser(LIMITED_USER)


def test_the_test_server_keeps_nothing_on_disk(redis_conn):
    [warning] = redis_config_warnings(redis_conn)
    assert warning.startswith(NO_DISK)
    assert warning.endswith("enable appendonly yes")


def test_an_eviction_policy_warns_and_names_it(restore_config):
    restore_config.config_set("maxmemory-policy", "allkeys-lru")
    warnings = redis_config_warnings(restore_config)
    assert len(warnings) == 2
    assert warnings[0].startswith(EVICTION)
    assert warnings[0].endswith("set maxmemory-policy noeviction")
    assert warnings[1].startswith(NO_DISK)


@pytest.mark.parametrize("key, value", [("appendonly", "yes"), ("save", "3600 1")], ids=["aof", "rdb"])
def test_either_kind_of_persistence_is_enough(restore_config, key, value):
    restore_config.config_set(key, value)
    assert redis_config_warnings(restore_config) == []


def test_refused_config_gives_one_unverified_warning(limited_conn):
    with pytest.raises(redis_lib.ResponseError):
        limited_conn.config_get("save")  # the premise: this user may not run CONFIG
    [warning] = redis_config_warnings(limited_conn)
    assert warning.startswith("Redis refused CONFIG GET (")
    assert "could not verify" in warning and "noeviction" in warning


def test_connection_errors_propagate(tmp_path):
    client = connect(load(overrides={"REDIS_URL": f"unix://{tmp_path}/absent.sock"}))
    with pytest.raises(redis_lib.ConnectionError):
        redis_config_warnings(client)
