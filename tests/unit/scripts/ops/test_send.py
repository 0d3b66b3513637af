"""``smartech-dumper send`` against a real receiver served over real HTTP."""

import base64
import re
import socket

import pytest
from click.testing import CliRunner
from werkzeug.utils import redirect

from receiver.procs.stack import free_port
from receiver.replay import samples
from receiver.web import create_app
from scripts.ops.send import PASSWORD_ENVVAR, USER_ENVVAR, send
from tests.support.helpers import PASSWORD, USER, read_kind, serve

SAMPLE_LINE = re.compile(r"^(\S+)\s+(\d{3})\s+(\S+)$")
LABELS = [label for label, _ in samples.sample_bodies()]


@pytest.fixture
def base_url(env):
    """Serve the real receiver over HTTP and yield its base URL."""
    yield from serve(create_app(env))


@pytest.fixture
def redirecting_url(base_url):
    """Serve a site that answers every request with a 302 to the real receiver's webhook."""
    target = f"{base_url}/webhook"
    yield from serve(lambda environ, start_response: redirect(target, 302)(environ, start_response))


@pytest.fixture(autouse=True)
def no_send_env(monkeypatch):
    """Keep credentials from the outer environment out of every test."""
    monkeypatch.delenv(USER_ENVVAR, raising=False)
    monkeypatch.delenv(PASSWORD_ENVVAR, raising=False)


def run(*args):
    """Invoke ``send`` with ``args`` and return the result."""
    return CliRunner().invoke(send, list(args))


def sample_lines(output):
    """Return ``{label: (status, capture id)}`` parsed from the per-sample lines."""
    found = {}
    for line in output.splitlines():
        match = SAMPLE_LINE.match(line)
        if match:
            found[match.group(1)] = (int(match.group(2)), match.group(3))
    return found


def raw_body(record):
    """Return the bytes a capture record says were received."""
    if record.get("body_encoding") == "base64":
        return base64.b64decode(record["body"])
    return record["body"].encode("utf-8")


def test_every_sample_is_accepted_and_arrives_byte_identical(base_url, data_dir):
    result = run(f"{base_url}/webhook", "--user", USER, "--password", PASSWORD)

    assert result.exit_code == 0, result.output
    lines = sample_lines(result.output)
    assert sorted(lines) == sorted(LABELS)
    assert all(status == 200 for status, _ in lines.values())
    assert "all samples answered 200" in result.output

    captures = {record["id"]: record for record in read_kind(data_dir, "captures")}
    assert sorted(captures) == sorted(capture_id for _, capture_id in lines.values())
    for label, body in samples.sample_bodies():
        record = captures[lines[label][1]]
        assert raw_body(record) == body, label
        assert record["content_type"] == samples.CONTENT_TYPE
        assert record["method"] == "POST"
        assert record["user"] == USER
        assert record["source"] == "default"


def test_credentials_come_from_the_environment_and_a_source_path_is_kept(base_url, data_dir, monkeypatch):
    monkeypatch.setenv(USER_ENVVAR, USER)
    monkeypatch.setenv(PASSWORD_ENVVAR, PASSWORD)

    result = run(f"{base_url}/webhook/staging")

    assert result.exit_code == 0, result.output
    records = read_kind(data_dir, "captures")
    assert len(records) == len(LABELS)
    assert {record["source"] for record in records} == {"staging"}


def test_wrong_password_fails_and_shows_401(base_url, data_dir):
    result = run(f"{base_url}/webhook", "--user", USER, "--password", "not-" + PASSWORD)

    assert result.exit_code == 1
    lines = sample_lines(result.output)
    assert sorted(lines) == sorted(LABELS)
    assert all(status == 401 for status, _ in lines.values())
    assert f"{len(LABELS)} of {len(LABELS)} samples not answered with 200" in result.output
    assert "SMS_CLICK=401" in result.output
    assert "check --user/--password" in result.output
    assert "all samples answered" not in result.output
    assert read_kind(data_dir, "captures") == []


def test_redirect_is_a_failure_not_followed(redirecting_url, data_dir):
    result = run(f"{redirecting_url}/webhook", "--user", USER, "--password", PASSWORD)

    assert result.exit_code == 1
    assert all(status == 302 for status, _ in sample_lines(result.output).values())
    assert "EMAIL_OPEN=302" in result.output
    assert read_kind(data_dir, "captures") == []


def test_unreachable_url_is_one_clear_line():
    url = f"http://127.0.0.1:{free_port()}/webhook"

    result = run(url, "--user", USER, "--password", PASSWORD)

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: cannot reach {url} ({LABELS[0]}): Connection refused"]
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_silent_server_times_out_with_one_line():
    with socket.socket() as listener:
        # The kernel accepts the connection; nobody ever answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/webhook"

        result = run(url, "--user", USER, "--password", PASSWORD, "--timeout", "0.2")

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: cannot reach {url} ({LABELS[0]}): timed out"]


def test_missing_password_is_a_usage_error(base_url, data_dir):
    result = run(f"{base_url}/webhook", "--user", USER)

    assert result.exit_code == 2
    assert "--password" in result.output
    assert read_kind(data_dir, "captures") == []


def test_url_without_http_scheme_is_a_usage_error():
    result = run("127.0.0.1:8000/webhook", "--user", USER, "--password", PASSWORD)

    assert result.exit_code == 2
    assert "http:// or https://" in result.output


@pytest.mark.parametrize("timeout", ["0", "-1", "soon"])
def test_timeout_must_be_a_positive_number(timeout):
    result = run("http://127.0.0.1:1/webhook", "--user", USER, "--password", PASSWORD, "--timeout", timeout)

    assert result.exit_code == 2
    assert "--timeout" in result.output
