"""``smartech-dumper check`` against a real Redis and real directories."""
import os
import stat

import pytest
from click.testing import CliRunner

from conftest import free_port
from scripts.check import check

SETTING_PREFIXES = ("DUMPER_", "REDIS_URL")


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
    assert statuses(result.output) == {"settings": ["OK"], "redis": ["OK"], "data dir": ["OK"],
                                       "web auth": ["OK"]}
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert os.listdir(data_dir) == []  # the probe file is gone
    assert "Traceback" not in result.output


@pytest.mark.parametrize("make_url", [
    lambda tmp: f"unix://{tmp}/no-such-dir/redis.sock",
    lambda tmp: f"redis://127.0.0.1:{free_port()}/0",
], ids=["missing-socket", "closed-port"])
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
    assert statuses(result.output) == {"settings": ["FAIL"], "redis": ["SKIP"],
                                       "data dir": ["SKIP"], "web auth": ["SKIP"]}
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
    assert statuses(result.output)["redis"] == ["OK"]
    assert "Traceback" not in result.output


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
