"""``smartech-dumper check`` against a real Redis and real directories."""

import os
import stat

import pytest
from click.testing import CliRunner

from receiver.procs.stack import free_port
from scripts.ops.check import check

SETTING_PREFIXES = ("DUMPER_", "REDIS_URL")
NO_DISK = "WARN redis: Redis keeps nothing on disk (no RDB snapshots, no AOF)"
EVICTION = "WARN redis: Redis may evict keys (maxmemory-policy=allkeys-lru)"


@pytest.fixture
def environment(monkeypatch, env):
    """Replace every receiver setting in the environment with the test ``env``."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def run():
    """Invoke ``check`` and return the result."""
    return CliRunner().invoke(check, [])


def statuses(output):
    """Return ``{check name: [statuses]}`` from the report lines."""
    found = {}
    for line in output.splitlines():
        status, _, rest = line.partition(" ")
        name = rest.strip().partition(":")[0]
        found.setdefault(name, []).append(status)
    return found


def test_all_checks_pass_and_the_data_dir_is_created_private(environment, data_dir):
    assert not os.path.exists(data_dir)

    result = run()

    assert result.exit_code == 0, result.output
    assert statuses(result.output) == {
        "settings": ["OK"],
        "redis": ["OK", "WARN"],
        "data dir": ["OK"],
        "metrics dir": ["OK"],
        "web auth": ["OK"],
    }  # the test Redis keeps nothing on disk
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert os.listdir(data_dir) == ["metrics"]  # the probe files are gone; the metrics dir is made as serve makes it
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "make_url",
    [
        lambda tmp: f"unix://{tmp}/no-such-dir/redis.sock",
        lambda tmp: f"redis://127.0.0.1:{free_port()}/0",
    ],
    ids=["missing-socket", "closed-port"],
)
def test_unreachable_redis_fails(environment, tmp_path, make_url):
    url = make_url(tmp_path)
    environment.setenv("REDIS_URL", url)

    result = run()

    assert result.exit_code == 1
    assert statuses(result.output)["redis"] == ["FAIL"]
    assert f"FAIL redis: cannot reach {url}" in result.output
    assert statuses(result.output)["data dir"] == ["OK"]
    assert "Traceback" not in result.output


def test_redis_password_is_never_printed(environment):
    environment.setenv("REDIS_URL", f"redis://worker:hunter2@127.0.0.1:{free_port()}/0")

    result = run()

    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert "redis://worker:***@127.0.0.1:" in result.output


def test_bad_setting_fails_and_names_the_variable(environment):
    environment.setenv("DUMPER_MAX_BYTES", "abc")

    result = run()

    assert result.exit_code == 1
    assert statuses(result.output) == {
        "settings": ["FAIL"],
        "redis": ["SKIP"],
        "data dir": ["SKIP"],
        "web auth": ["SKIP"],
    }
    assert "DUMPER_MAX_BYTES" in result.output
    assert "'abc'" in result.output
    assert "Traceback" not in result.output


def test_data_dir_under_a_regular_file_fails(environment, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("plain file\n")
    environment.setenv("DUMPER_DATA_DIR", str(blocker / "var"))

    result = run()

    assert result.exit_code == 1
    assert statuses(result.output)["data dir"] == ["FAIL"]
    assert f"{blocker / 'var'} is not writable" in result.output
    assert statuses(result.output)["redis"][0] == "OK"
    assert "Traceback" not in result.output


def test_an_unknown_variable_and_an_unusable_metrics_dir_warn_by_name(environment, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("DUMPER_METRICS_DIR", str(blocker / "metrics"))
    monkeypatch.setenv("DUMPER_DEDUP_WINDOWS", "7d")
    result = run()
    assert result.exit_code == 0, result.output  # warnings only: the receiver starts and answers without metrics
    assert f"WARN metrics dir: DUMPER_METRICS_DIR {blocker / 'metrics'} is not usable" in result.output
    assert "WARN settings: DUMPER_DEDUP_WINDOWS is not a setting and is ignored: did you mean DUMPER_DEDUP_WINDOW?" in (
        result.output
    )


def test_missing_web_credentials_only_warn(environment):
    environment.delenv("DUMPER_BASIC_AUTH")

    result = run()

    assert result.exit_code == 0, result.output
    assert statuses(result.output)["web auth"] == ["WARN"]
    assert "DUMPER_BASIC_AUTH" in result.output


def test_disabled_auth_warns(environment):
    environment.delenv("DUMPER_BASIC_AUTH")
    environment.setenv("DUMPER_AUTH_DISABLED", "true")

    result = run()

    assert result.exit_code == 0, result.output
    assert statuses(result.output)["web auth"] == ["WARN"]
    assert "DUMPER_AUTH_DISABLED" in result.output


def test_data_dir_readable_by_others_warns(environment, data_dir):
    os.makedirs(data_dir)
    os.chmod(data_dir, 0o755)

    result = run()

    assert result.exit_code == 0, result.output
    assert statuses(result.output)["data dir"] == ["OK", "WARN"]
    assert f"chmod 700 {data_dir}" in result.output


@pytest.fixture
def redis_config(redis_conn):
    """Give the test the shared Redis and restore the settings it changes."""
    saved = {key: redis_conn.config_get(key)[key] for key in ("maxmemory-policy", "appendonly")}
    yield redis_conn
    for key, value in saved.items():
        redis_conn.config_set(key, value)


def test_a_redis_that_keeps_nothing_on_disk_warns(environment):
    result = run()

    assert result.exit_code == 0, result.output
    assert NO_DISK in result.output
    assert "enable appendonly yes" in result.output
    assert EVICTION not in result.output


def test_an_evicting_redis_warns_and_the_warning_goes_once_fixed(environment, redis_config):
    redis_config.config_set("maxmemory-policy", "allkeys-lru")
    redis_config.config_set("appendonly", "yes")

    evicting = run()

    assert evicting.exit_code == 0, evicting.output
    assert statuses(evicting.output)["redis"] == ["OK", "WARN"]
    assert EVICTION in evicting.output
    assert "set maxmemory-policy noeviction" in evicting.output
    assert NO_DISK not in evicting.output  # appendonly yes keeps the jobs on disk

    redis_config.config_set("maxmemory-policy", "noeviction")
    fixed = run()

    assert fixed.exit_code == 0, fixed.output
    assert statuses(fixed.output)["redis"] == ["OK"]


def test_a_redis_that_refuses_config_warns_it_could_not_verify(environment, redis_conn, redis_url):
    redis_conn.acl_setuser(
        "no-config", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=["+@all", "-config"]
    )
    try:
        environment.setenv("REDIS_URL", redis_url.replace("unix://", "unix://no-config:pw@"))
        result = run()
    finally:
        redis_conn.acl_deluser("no-config")

    assert result.exit_code == 0, result.output
    assert statuses(result.output)["redis"] == ["OK", "WARN"]
    assert "WARN redis: Redis refused CONFIG GET (" in result.output
    assert "could not verify" in result.output
