"""The web inspector's app over real data files (plain and gzipped), real Redis and a real receiver; no browser."""

import base64
import json
import os
import re
import subprocess
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from receiver.core import layout
from receiver.core import queues as queueing
from receiver.core.settings import SettingsError, load
from receiver.forwarder import cursor, enqueue
from receiver.inspector import create_app
from receiver.inspector.guard import CSP
from receiver.inspector.replaycmd import shell_quote
from receiver.store.safetext import is_unsafe
from receiver.web import create_app as create_receiver
from scripts.view.inspect import inspect
from scripts.view.listing import list_captures
from tests.support.capture_factory import (
    body_bytes,
    days_ago,
    make_capture,
    read_all,
    smartech_body,
    write_captures,
    write_gz,
)
from tests.support.helpers import serve
from tests.support.hostile import HTML_VALUE, hostile_captures, html_captures, write_day

AUTH = "viewer:look,rotated:new-pw"
CUSTOMER = "9999999997"


def headers(user="viewer", password="look"):
    """Return the inspector's Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def inspector_env(env):
    """Return the settings of an inspector over the test data dir, unmasked (test_masked_views.py masks)."""
    return {**env, "DUMPER_INSPECT_AUTH": AUTH, "DUMPER_INSPECT_UNMASK": "true"}


@pytest.fixture
def client(inspector_env):
    """Return a test client of the inspector app."""
    return create_app(inspector_env).test_client()


@pytest.fixture
def day(data_dir):
    """Write yesterday's captures (one per hour, every third for the customer) and a gzipped day before."""
    older = [make_capture(days_ago(2, hour=h), smartech_body("EMAIL_OPEN", foreignkey="111")) for h in (1, 2)]
    write_gz(data_dir, "captures", older[0]["received_at"][:10], older)
    newer = [
        make_capture(days_ago(1, hour=h), smartech_body("SMS_CLICK", foreignkey=CUSTOMER if h % 3 == 0 else "42"))
        for h in range(0, 20)
    ]
    newer.append(make_capture(days_ago(1, hour=21), "data=%7B%22p%22%3A%5B"))  # rejected: invalid JSON
    newer.append(make_capture(days_ago(1, hour=22), b"data=\xff\xfe not utf-8", content_type=None, source="crm"))
    write_captures(data_dir, newer)
    return older + newer


def page_ids(text):
    """Return the capture ids a list page links to, in order."""
    return re.findall(r'<td class="id"><a href="/captures/([0-9A-Z]{26})">', text)


def api(client, **params):
    """Return the JSON of ``/api/captures`` with ``params``."""
    answer = client.get("/api/captures?" + urlencode(params, doseq=True), headers=headers())
    assert answer.status_code == 200, answer.data
    return answer.get_json()


def test_it_refuses_to_start_without_its_credentials(env, data_dir):
    with pytest.raises(SettingsError, match=r"^DUMPER_INSPECT_AUTH"):
        create_app(env)
    result = CliRunner(env={k: None for k in ("DUMPER_INSPECT_AUTH",)}).invoke(inspect, [])
    assert result.exit_code == 1 and result.output.startswith("Error: DUMPER_INSPECT_AUTH: ")
    with pytest.raises(SettingsError, match=r"^DUMPER_INSPECT_AUTH: each entry"):
        load(environ={"DUMPER_INSPECT_AUTH": "no-colon"})


def test_every_page_needs_credentials_and_both_rotated_pairs_work(client, day):
    for path in ("/", "/api/captures", f"/captures/{day[-1]['id']}", f"/captures/{day[-1]['id']}/raw", "/static/x"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Basic ")
        assert answer.headers["Content-Security-Policy"] == CSP
        assert client.get(path, headers=headers("viewer", "wrong")).status_code == 401
    assert client.get("/", headers=headers()).status_code == 200
    assert client.get("/", headers=headers("rotated", "new-pw")).status_code == 200
    assert client.get("/healthz").status_code == 200  # says nothing, needs nothing


def test_the_allowlist_refuses_other_addresses(inspector_env, day):
    outside = create_app({**inspector_env, "DUMPER_INSPECT_ALLOWED_IPS": "10.0.0.0/8"}).test_client()
    assert outside.get("/", headers=headers()).status_code == 403
    assert outside.get("/api/captures", headers=headers()).status_code == 403
    inside = create_app({**inspector_env, "DUMPER_INSPECT_ALLOWED_IPS": "127.0.0.1, 10.0.0.0/8"}).test_client()
    assert inside.get("/", headers=headers()).status_code == 200


def test_pages_send_strict_security_headers(client, day):
    for path in ("/", "/api/captures", f"/captures/{day[0]['id']}", "/static/inspector.js", "/static/inspector.css"):
        answer = client.get(path, headers=headers())
        assert answer.status_code == 200, path
        assert answer.headers["Content-Security-Policy"] == CSP
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
    html = client.get("/", headers=headers()).data.decode()
    assert "<script>" not in html and " style=" not in html and "onclick" not in html  # nothing inline
    links = re.findall(r'(?:src|href|action)="([^"]*)"', html)
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links), links  # no CDN


def test_the_list_is_newest_first_with_every_column(client, day):
    answer = client.get("/", headers=headers())
    text = answer.data.decode()
    assert page_ids(text) == [record["id"] for record in reversed(day)]
    assert "SMS_CLICK" in text and CUSTOMER in text and "rejected: invalid JSON" in text
    rows = api(client)["captures"]
    assert [row["id"] for row in rows] == [record["id"] for record in reversed(day)]
    assert rows[2]["display"]["status"] == "ok" and rows[2]["events"] == 1 and rows[2]["webhook_names"] == ["SMS_CLICK"]
    assert rows[0]["source"] == "crm" and rows[0]["status"] == "rejected" and rows[1]["status"] == "rejected"


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"foreignkey": CUSTOMER}, lambda day: [r for r in day[2:22] if f"%22{CUSTOMER}%22" in r["body"]]),
        ({"webhook_name": "email_open"}, lambda day: day[:2]),
        ({"channel": "email"}, lambda day: day[:2]),
        ({"activity": "open"}, lambda day: day[:2]),
        ({"source": "crm"}, lambda day: day[-1:]),
        ({"status": "rejected"}, lambda day: day[-2:]),
        ({"status": ["ok", "warnings"]}, lambda day: day[:-2]),
        ({"since": "yesterday", "until": "today", "channel": "sms"}, lambda day: day[2:-2]),
    ],
)
def test_the_list_filters_like_list(client, day, data_dir, params, expected):
    wanted = [record["id"] for record in reversed(expected(day))]
    assert [row["id"] for row in api(client, **params)["captures"]] == wanted
    assert page_ids(client.get("/?" + urlencode(params, doseq=True), headers=headers()).data.decode()) == wanted
    args = [f"--{name.replace('_', '-')}={value}" for name, values in params.items() for value in [values][0:1]]
    if not isinstance(params.get("status"), list):
        result = CliRunner().invoke(list_captures, ["--data-dir", data_dir, "--json", *args])
        assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == wanted[::-1]


def test_bad_filters_are_a_400_naming_the_parameter(client, day):
    answer = client.get("/?since=last+tuesday", headers=headers())
    assert answer.status_code == 400 and "since: cannot read" in answer.data.decode()
    assert client.get("/api/captures?status=fine", headers=headers()).get_json()["error"].startswith("status:")
    assert client.get("/api/captures?since=today&until=yesterday", headers=headers()).status_code == 400
    assert client.get("/api/captures?limit=0", headers=headers()).status_code == 400


def test_pages_follow_each_other_without_gaps_or_repeats(client, day):
    seen, url, pages = [], "/?limit=5", 0
    while url:
        text = client.get(url, headers=headers()).data.decode()
        seen += page_ids(text)
        found = re.search(r'<a href="([^"]+)" rel="next">', text)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert seen == [record["id"] for record in reversed(day)] and pages == 5
    listed, before = [], None
    while True:
        data = api(client, limit=7, **({"before": before} if before else {}))
        listed += [row["id"] for row in data["captures"]]
        if not data["next"]:
            break
        before = data["before"]
    assert listed == seen
    assert [row["id"] for row in api(client, limit=5, page=2)["captures"]] == seen[5:10]


def test_a_page_out_of_time_says_where_it_stopped(inspector_env, day):
    client = create_app({**inspector_env, "DUMPER_INSPECT_SCAN_SECONDS": "0.000001"}).test_client()
    text = client.get(f"/?foreignkey={CUSTOMER}", headers=headers()).data.decode()
    assert "within the time allowed" in text and "Search older" in text
    found, url = [], f"/api/captures?foreignkey={CUSTOMER}"
    while url:
        data = client.get(url, headers=headers()).get_json()
        found += [row["id"] for row in data["captures"]]
        url = data["next"]
    assert len(found) == 7 and len(set(found)) == 7


def test_new_captures_come_after_the_newest_shown(client, day, data_dir):
    shown = api(client)["captures"][0]["id"]
    fresh = write_captures(data_dir, [make_capture(days_ago(0, hour=0), smartech_body(foreignkey=CUSTOMER))])
    other = write_captures(
        data_dir, [make_capture(days_ago(0, hour=0).replace(minute=1), smartech_body(foreignkey="42"))]
    )
    polled = api(client, after=shown, foreignkey=CUSTOMER)
    assert [row["id"] for row in polled["captures"]] == [fresh[0]["id"]] and polled["after"] == other[0]["id"]
    assert api(client, after=polled["after"], foreignkey=CUSTOMER)["captures"] == []


def test_a_gzipped_day_lists_and_shows(client, day):
    gz = day[0]
    rows = api(client, since=gz["received_at"][:10], until=day[2]["received_at"][:10])["captures"]
    assert [row["id"] for row in rows] == [day[1]["id"], gz["id"]]
    text = client.get(f"/captures/{gz['id']}", headers=headers()).data.decode()
    assert "EMAIL_OPEN" in text and "111" in text
    assert client.get(f"/captures/{gz['id']}/raw", headers=headers()).data == body_bytes(gz)


def test_the_detail_shows_body_form_payload_and_events(client, day):
    record = day[3]  # hour 1: customer 42
    text = client.get(f"/captures/{record['id']}", headers=headers()).data.decode()
    for part in ('id="raw-body"', 'id="form"', 'id="payload-json"', 'id="events"', "UTF-8 text", "SMS_CLICK"):
        assert part in text, part
    assert '<td class="event-foreignkey">42</td>' in text and "smartech_panel" in text
    data = client.get(f"/api/captures/{record['id']}", headers=headers()).get_json()
    assert data["capture"]["id"] == record["id"] and data["status"] == "ok" and data["events"][0]["foreignkey"] == "42"
    assert data["body"]["form"][0][0] == "data" and data["payload"]["smartech_panel"][0]["webhook_name"] == "SMS_CLICK"
    assert data["replay"]["command"].startswith(f"smartech-dumper replay --id {record['id']} --to ")


def test_a_rejected_body_that_is_not_utf8_is_shown_escaped_and_downloads_exactly(client, day):
    record = day[-1]
    text = client.get(f"/captures/{record['id']}", headers=headers()).data.decode()
    assert "Not UTF-8" in text and "data=\\xff\\xfe not utf-8" in text and 'id="reject"' in text
    raw = client.get(f"/captures/{record['id']}/raw", headers=headers())
    assert raw.data == b"data=\xff\xfe not utf-8" and raw.mimetype == "application/octet-stream"
    assert raw.headers["Content-Disposition"] == f'attachment; filename="capture-{record["id"]}.bin"'
    assert client.get("/captures/01M8M3H0SA4VP1YR7FK6FJM64Q", headers=headers()).status_code == 404
    assert client.get("/captures/not-an-id", headers=headers()).status_code == 404
    assert client.get("/api/captures/not-an-id", headers=headers()).status_code == 404


def where(client, capture_id):
    """Return the where-it-went state of a capture, through the API."""
    return client.get(f"/api/captures/{capture_id}", headers=headers()).get_json()["where"]["state"]


def test_where_it_went_from_disk_to_queue_to_processed(client, inspector_env, day, data_dir, monkeypatch):
    record = day[-3]
    assert where(client, record["id"]) == "waiting on disk"  # no forwarder ever ran
    path = layout.day_path(data_dir, layout.CAPTURES, record["received_at"][:10])
    cursor.save(data_dir, cursor.Cursor(record["received_at"][:10], os.path.getsize(path)))
    assert where(client, record["id"]) == "handed over"  # no job: handed over long ago
    for name, value in inspector_env.items():
        monkeypatch.setenv(name, value)
    queue = queueing.get_queue(load())
    enqueue.enqueue_capture(queue, record, load())
    assert where(client, record["id"]) == "queued"
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    assert where(client, record["id"]) == "processed"
    unreachable = create_app({**inspector_env, "REDIS_URL": "redis://127.0.0.1:1/0"}).test_client()
    assert where(unreachable, record["id"]) == "unknown"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None, 'text/plain; x="it\'s"'])
def test_the_curl_command_replays_the_body_byte_for_byte(env, inspector_env, data_dir, tmp_path, content_type):
    body = bytes(range(256)) * 3 + b"data='quoted' \"double\" $HOME `id` \\ \n"
    record = write_captures(data_dir, [make_capture(days_ago(1), body, content_type=content_type, source="crm")])[0]
    receiving = str(tmp_path / "receiving")
    for base in serve(create_receiver({**env, "DUMPER_DATA_DIR": receiving})):
        client = create_app({**inspector_env, "DUMPER_INSPECT_RECEIVER_URL": base}).test_client()
        command = client.get(f"/api/captures/{record['id']}", headers=headers()).get_json()["replay"]["curl"]
        run_env = dict(os.environ, DUMPER_REPLAY_USER="smartech", DUMPER_REPLAY_PASSWORD="s3cret")
        done = subprocess.run(["bash", "-c", command], env=run_env, capture_output=True, timeout=30)
        assert done.returncode == 0 and b'"accepted"' in done.stdout, done.stderr
    [arrived] = read_all(receiving, "captures")
    assert body_bytes(arrived) == body and arrived["content_type"] == content_type and arrived["source"] == "crm"


def test_a_large_body_is_replayed_from_its_downloaded_bytes(env, inspector_env, data_dir, tmp_path):
    body = os.urandom(300 * 1024)
    record = write_captures(data_dir, [make_capture(days_ago(1), body, content_type="application/json")])[0]
    receiving = str(tmp_path / "receiving")
    for base in serve(create_receiver({**env, "DUMPER_DATA_DIR": receiving})):
        client = create_app({**inspector_env, "DUMPER_INSPECT_RECEIVER_URL": base}).test_client()
        command = client.get(f"/api/captures/{record['id']}", headers=headers()).get_json()["replay"]["curl"]
        (tmp_path / f"capture-{record['id']}.bin").write_bytes(
            client.get(f"/captures/{record['id']}/raw", headers=headers()).data
        )
        run_env = dict(os.environ, DUMPER_REPLAY_USER="smartech", DUMPER_REPLAY_PASSWORD="s3cret")
        done = subprocess.run(["bash", "-c", command], env=run_env, cwd=tmp_path, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
    assert body_bytes(read_all(receiving, "captures")[0]) == body


def test_hostile_values_are_escaped_everywhere(client, data_dir):
    records = write_day(data_dir, html_captures(days_ago(1)) + hostile_captures(days_ago(1).replace(minute=5)))
    pages = [client.get("/", headers=headers()).data.decode()]
    pages += [client.get(f"/captures/{record['id']}", headers=headers()).data.decode() for record in records[:6]]
    for text in pages:
        assert "<script>window" not in text and "<img src=x" not in text and "<b>bold" not in text
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", text)
        assert len(re.findall(r"<script\b", text)) == 1  # ours, from /static
    assert "&lt;script&gt;window.__pwned" in pages[1] and "\\x1b]0;pwned\\x07" in pages[1]
    data = client.get("/api/captures", headers=headers()).get_json()
    assert any(HTML_VALUE in row["webhook_names"] for row in data["captures"])  # JSON keeps the exact value
    assert client.get("/api/captures", headers=headers()).mimetype == "application/json"


@pytest.mark.parametrize(
    "text", ["plain", "it's", HTML_VALUE.replace("\x00", ""), "tab\there\\x41 \u009b \u202e \U000e0041 é"]
)
def test_shell_quoting_is_exact_and_visible(text):
    """A shell argument cannot hold NUL; every other character comes out as it went in."""
    quoted = shell_quote(text)
    assert quoted.isprintable() or not any(is_unsafe(char) for char in quoted)
    done = subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True, timeout=10)
    assert done.stdout == text.encode()


@pytest.mark.parametrize(
    "name, value",
    [
        ("DUMPER_INSPECT_ALLOWED_IPS", "10.0.0.0/8, not-an-ip"),
        ("DUMPER_INSPECT_RECEIVER_URL", "ftp://example.com"),
        ("DUMPER_INSPECT_SCAN_SECONDS", "0"),
    ],
)
def test_a_bad_inspector_setting_names_itself(name, value):
    with pytest.raises(SettingsError, match=rf"^{name}: "):
        load(environ={"DUMPER_INSPECT_AUTH": "a:b", name: value})
