"""The HTTP contract, through Flask's test client against a real Redis and real files."""

import json
import logging
import os
import stat
import threading

import pytest

from receiver.core import ids
from receiver.core.settings import load
from receiver.forwarder.loop import Forwarder
from receiver.web import create_app
from tests.support.batches import job_of
from tests.support.helpers import PASSWORD, basic, read_kind

FORM = "application/x-www-form-urlencoded"
BODY = "data=%7B%22panel%22%3A%5B%7B%22webhook_name%22%3A%22SMS_CLICK%22%7D%5D%7D"


@pytest.fixture
def app(env):
    return create_app(env)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def log_lines():
    """Collect the receiver's log messages."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    logger = logging.getLogger("receiver")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def post(client, path="/webhook", body=BODY, content_type=FORM, auth=True, **headers):
    if auth:
        headers["Authorization"] = basic()
    return client.post(path, data=body, content_type=content_type, headers=headers)


def test_post_is_captured_answered_then_forwarded(client, env, data_dir, redis_conn):
    response = post(client, "/webhook")
    assert response.status_code == 200
    payload = response.get_json()
    assert payload["status"] == "accepted"
    capture_id = payload["id"]
    [record] = read_kind(data_dir, "captures")
    assert record["id"] == capture_id
    assert set(record) == {
        "id",
        "received_at",
        "source",
        "remote_addr",
        "method",
        "path",
        "content_type",
        "user",
        "body",
        "size",
    }
    assert record["source"] == "default"
    assert record["method"] == "POST" and record["path"] == "/webhook"
    assert record["content_type"] == FORM
    assert record["user"] == "smartech"
    assert record["body"] == BODY and record["size"] == len(BODY)
    assert record["received_at"].endswith("Z")
    assert os.listdir(os.path.join(data_dir, "captures")) == [record["received_at"][:10] + ".jsonl"]
    assert redis_conn.llen("rq:queue:smartech") == 0  # the hot path never waits for Redis
    assert Forwarder(load(overrides=env)).drain() == 1
    job = job_of(redis_conn, capture_id)
    assert job.func_name == "jobs.process.process_batch"
    [[line]] = job.args  # the captures line itself, as the file holds it
    assert json.loads(line) == record
    assert job.origin == "smartech"


def test_capture_ids_are_time_sortable_and_job_id_safe(client, data_dir):
    got = [post(client).get_json()["id"] for _ in range(20)]
    assert got == sorted(got)
    assert len(set(got)) == 20
    assert all(len(i) == 26 and i.isalnum() for i in got)
    assert abs(ids.id_time_ms(got[0]) - ids.id_time_ms(got[-1])) < 5000


@pytest.mark.parametrize(
    "path,source",
    [
        ("/webhook", "default"),
        ("/webhook/", "default"),
        ("/webhook/crm_Prod-1", "crm_Prod-1"),
        ("/webhook/crm_Prod-1/", "crm_Prod-1"),
        ("/webhook/" + "a" * 64, "a" * 64),
    ],
)
def test_paths_with_and_without_trailing_slash(client, data_dir, path, source):
    response = post(client, path)
    assert response.status_code == 200
    assert read_kind(data_dir, "captures")[0]["source"] == source


@pytest.mark.parametrize("path", ["/webhook/a.b", "/webhook/a/b", "/webhook/" + "a" * 65, "/webhook/%C3%BC"])
def test_bad_source_is_404_and_not_captured(client, data_dir, path):
    assert post(client, path).status_code == 404
    assert read_kind(data_dir, "captures") == []


@pytest.mark.parametrize("method", ["get", "head"])
def test_probes_answer_200_without_auth_and_capture_nothing(client, data_dir, redis_conn, method):
    for path in ("/webhook", "/webhook/", "/webhook/panel1"):
        assert getattr(client, method)(path).status_code == 200
    assert read_kind(data_dir, "captures") == []
    assert redis_conn.llen("rq:queue:smartech") == 0


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_email_api_empty_array_is_accepted(client, data_dir):
    response = post(client, body="[]", content_type="application/json")
    assert response.status_code == 200
    assert read_kind(data_dir, "captures")[0]["body"] == "[]"


@pytest.mark.parametrize("header", [None, basic(password="hunter2"), basic(user="other"), "Bearer x"])
def test_bad_credentials_get_401_and_nothing_is_captured(client, data_dir, redis_conn, log_lines, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/webhook", data=BODY, content_type=FORM, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert not os.path.exists(os.path.join(data_dir, "captures"))
    assert redis_conn.llen("rq:queue:smartech") == 0
    assert any("refused=401" in line for line in log_lines)
    assert not any(PASSWORD in line or "hunter2" in line for line in log_lines)


def test_rotation_accepts_every_configured_pair(env, data_dir):
    env["DUMPER_BASIC_AUTH"] = "old:one, smartech:s3cret"
    client = create_app(env).test_client()
    assert post(client).status_code == 200
    response = client.post("/webhook", data=BODY, content_type=FORM, headers={"Authorization": basic("old", "one")})
    assert response.status_code == 200
    assert [r["user"] for r in read_kind(data_dir, "captures")] == ["smartech", "old"]


def test_allowlist_refuses_outsiders_and_forged_forwarded_for(env, data_dir, log_lines):
    env["DUMPER_ALLOWED_IPS"] = "10.0.0.0/8, 2001:db8::/32"
    client = create_app(env).test_client()
    outsider = {"REMOTE_ADDR": "203.0.113.5"}
    forged = {"X-Forwarded-For": "10.1.1.1"}
    response = client.post(
        "/webhook", data=BODY, content_type=FORM, environ_base=outsider, headers={"Authorization": basic(), **forged}
    )
    assert response.status_code == 403
    assert client.get("/webhook", environ_base=outsider).status_code == 403
    assert client.get("/webhook", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
    assert client.get("/webhook", environ_base={"REMOTE_ADDR": "2001:db8::5"}).status_code == 200
    assert not os.path.exists(os.path.join(data_dir, "captures"))
    assert any("refused=403" in line and "203.0.113.5" in line for line in log_lines)


def test_trusted_proxy_uses_the_address_the_proxy_saw(env, data_dir):
    env.update(DUMPER_ALLOWED_IPS="10.0.0.0/8", DUMPER_TRUSTED_PROXIES="1")
    client = create_app(env).test_client()
    proxied = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}
    ok = client.post(
        "/webhook",
        data=BODY,
        content_type=FORM,
        **proxied,
        headers={"Authorization": basic(), "X-Forwarded-For": "203.0.113.5, 10.2.3.4"},
    )
    assert ok.status_code == 200
    assert read_kind(data_dir, "captures")[0]["remote_addr"] == "10.2.3.4"
    forged = client.post(
        "/webhook",
        data=BODY,
        content_type=FORM,
        **proxied,
        headers={"Authorization": basic(), "X-Forwarded-For": "10.2.3.4, 203.0.113.5"},
    )
    assert forged.status_code == 403


def test_body_over_limit_is_413_and_not_captured(env, data_dir, log_lines):
    env["DUMPER_MAX_BYTES"] = "100"
    client = create_app(env).test_client()
    assert post(client, body="data=" + "x" * 95).status_code == 200
    assert post(client, body="data=" + "x" * 96).status_code == 413
    assert len(read_kind(data_dir, "captures")) == 1
    assert any("refused=413" in line for line in log_lines)


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("", FORM),
        ("nodata=1", FORM),
        ("data=%7Bnot json", FORM),
        ("hello", "text/plain"),
        ("data=%7B%7D", None),
    ],
)
def test_bad_input_from_an_authenticated_sender_is_200_and_captured(client, data_dir, body, content_type):
    response = post(client, body=body, content_type=content_type)
    assert response.status_code == 200
    [record] = read_kind(data_dir, "captures")
    assert record["body"] == body and record["content_type"] == content_type


def test_non_utf8_body_is_stored_as_base64(client, data_dir):
    raw = b"data=\xff\xfe\x00caf\xe9"
    assert post(client, body=raw).status_code == 200
    [record] = read_kind(data_dir, "captures")
    assert record["body_encoding"] == "base64"
    import base64

    assert base64.b64decode(record["body"]) == raw and record["size"] == len(raw)


def test_files_are_private_and_secrets_never_stored(client, data_dir):
    post(client)
    capture_dir = os.path.join(data_dir, "captures")
    [name] = os.listdir(capture_dir)
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(capture_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(capture_dir, name)).st_mode) == 0o600
    text = open(os.path.join(capture_dir, name)).read()
    assert PASSWORD not in text and basic() not in text and "Authorization" not in text


def test_parallel_requests_never_interleave_lines(client, data_dir):
    bodies = [f"data={'%7B%22n%22%3A' + str(i) + '%7D'}" + "&pad=" + "x" * (3000 + i) for i in range(40)]

    def send(body):
        assert post(client, body=body).status_code == 200

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["body"] for r in read_kind(data_dir, "captures")) == sorted(bodies)


def test_redis_down_still_answers_200_from_disk(env, data_dir, log_lines):
    env["REDIS_URL"] = "unix:///nonexistent/redis.sock"
    client = create_app(env).test_client()
    response = post(client)
    assert response.status_code == 200
    assert read_kind(data_dir, "captures")[0]["id"] == response.get_json()["id"]


def test_disk_failure_still_answers_200_when_redis_holds_the_payload(env, tmp_path, redis_conn, log_lines):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env["DUMPER_DATA_DIR"] = str(blocker / "var")
    client = create_app(env).test_client()
    response = post(client)
    assert response.status_code == 200
    job = job_of(redis_conn, response.get_json()["id"])
    assert job.args[0][0]["body"] == BODY
    assert any("capture write failed" in line for line in log_lines)
    assert any("held by Redis only" in line for line in log_lines)


def test_neither_disk_nor_redis_is_the_only_503(env, tmp_path, log_lines):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env.update(DUMPER_DATA_DIR=str(blocker / "var"), REDIS_URL="unix:///nonexistent/redis.sock")
    response = post(create_app(env).test_client())
    assert response.status_code == 503
    assert any("LOST" in line for line in log_lines)


def test_a_removed_captures_directory_is_made_again(client, data_dir):
    import shutil

    assert post(client).status_code == 200
    shutil.rmtree(os.path.join(data_dir, "captures"))
    assert post(client).status_code == 200
    assert len(read_kind(data_dir, "captures")) == 1
    assert stat.S_IMODE(os.stat(os.path.join(data_dir, "captures")).st_mode) == 0o700


def test_a_refused_post_from_an_allowlisted_address_is_kept_and_still_a_401(env, data_dir, redis_conn, log_lines):
    env["DUMPER_ALLOWED_IPS"] = "127.0.0.0/8"  # quarantine on by default behind an allowlist
    client = create_app(env).test_client()
    wrong = basic(password="rotated")
    response = client.post("/webhook/crm", data=BODY, content_type=FORM, headers={"Authorization": wrong})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    assert not os.path.exists(os.path.join(data_dir, "captures"))
    assert redis_conn.llen("rq:queue:smartech") == 0
    [name] = [name for name in os.listdir(os.path.join(data_dir, "quarantine")) if not name.startswith(".")]
    path = os.path.join(data_dir, "quarantine", name)
    assert name.endswith(".post") and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, "rb") as handle:
        text = handle.read()
    assert text.endswith(BODY.encode()) and b'"source":"crm"' in text
    assert wrong.split()[1].encode() not in text and b"Authorization" not in text
    assert any("quarantined refused post" in line for line in log_lines)


@pytest.mark.parametrize(
    "extra, kept",
    [
        ({}, False),
        ({"DUMPER_QUARANTINE": "true"}, True),
        ({"DUMPER_ALLOWED_IPS": "127.0.0.1", "DUMPER_QUARANTINE": "false"}, False),
    ],
    ids=["no-allowlist-off", "forced-on", "turned-off"],
)
def test_without_an_allowlist_the_quarantine_is_off_unless_asked(env, data_dir, extra, kept):
    env.update(extra)
    client = create_app(env).test_client()
    assert (
        client.post(
            "/webhook", data=BODY, content_type=FORM, headers={"Authorization": basic(password="x")}
        ).status_code
        == 401
    )
    assert os.path.exists(os.path.join(data_dir, "quarantine")) is kept


def test_a_quarantine_that_cannot_be_written_leaves_the_401(env, tmp_path, log_lines):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data dir should be\n")
    env.update(DUMPER_QUARANTINE="true", DUMPER_DATA_DIR=str(blocker / "var"))
    client = create_app(env).test_client()
    assert (
        client.post(
            "/webhook", data=BODY, content_type=FORM, headers={"Authorization": basic(password="x")}
        ).status_code
        == 401
    )
    assert any("refused post not quarantined" in line for line in log_lines)
