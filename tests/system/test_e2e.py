"""End to end with real processes: `serve` (gunicorn and the forwarder), an RQ worker, requests and curl."""

import json
import os
import shutil
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from receiver.procs.stack import free_port
from receiver.replay import samples
from tests.support.capture_factory import make_capture
from tests.support.helpers import PASSWORD, USER, all_text, append_records, backlog, read_kind, wait_until
from tests.support.procs import BIN, run_burst_worker, start_serve, stop, wait_http
from tests.support.routing_helpers import write_routes

pytestmark = pytest.mark.slow
SEED_WEB_ACTIVITY = (
    'data="%7B%22%3Cpanel_name%3E%22%3A%5B%7B%22channel%22%3A%22custom_activity%22%2C%22custom_params%22'
    "%3A%7B%7D%2C%22att_params%22%3A%7B%22CITY%22%3A%22Thane%26Kalyan%22%2C%22STATE%22%3A%22Maharashtra11"
    "%22%7D%2C%22msgid%22%3A%22103%22%2C%22webhook_name%22%3A%22Test%20Webhook%20URL%20for%20Automation%22"
    "%2C%22payload_params%22%3A%7B%22items%22%3A%5B%7B%22dateofpurchase_sm%22%3A%222018-12-06%2017%3A11%3A30"
    "%22%2C%22category_s%22%3A%22lifestyle%22%2C%22prqt_s%22%3A1%2C%22prid_s%22%3A157%2C%22name_s%22%3A%22"
    "sarvesh12345%22%2C%22bydemand_s%22%3A%22sarvesh%22%2C%22price_s%22%3A9990.91%7D%5D%7D%2C%22event_params"
    "%22%3A%7B%22activity_source%22%3A%22web%22%2C%22ts%22%3A181212120708%2C%22activity_id%22%3A103%2C%22"
    "foreignkey%22%3A%22%3Cforeignkey%3E%22%2C%22identity%22%3A%22%3Cidentity%3E%22%2C%22guid%22%3A%22"
    "2a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8%22%7D%2C%22journey_name%22%3A%22act%20on%20webhook%20trigger%20"
    'test1%22%7D%5D%7D%3Cdiv%3E"'
)


@pytest.fixture
def proc_env(env):
    return {**os.environ, **env, "DUMPER_MAX_BYTES": "20000", "DUMPER_FORWARDER": "true"}


@pytest.fixture
def server(proc_env):
    port = free_port()
    proc = start_serve(proc_env, port)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    yield f"http://127.0.0.1:{port}"
    log = stop(proc)
    assert PASSWORD not in log


def test_requests_and_curl_posts_become_events(server, proc_env, data_dir):
    payload = {
        "smartech_panel": [
            {
                "webhook_name": "SMS_CLICK",
                "event_params": {"foreignkey": "9999999997", "guid": "g-1", "ts": 181212120708},
                "custom_params": {"channel": "sms", "link": "http://x.example/?a=1&b=2+3"},
                "att_params": {"CITY": "Thane&Kalyan", "NAME": "Zürich मुंबई a+b"},
            }
        ]
    }
    form = {"data": json.dumps(payload, ensure_ascii=False)}
    answer = requests.post(server + "/webhook/crm/", data=form, auth=(USER, PASSWORD), timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test"
    done = subprocess.run(
        [
            curl,
            "-sS",
            "-X",
            "POST",
            server + "/webhook/",
            "-u",
            f"{USER}:{PASSWORD}",
            "-H",
            "Content-Type: application/x-www-form-urlencoded ",
            "--data-binary",
            SEED_WEB_ACTIVITY,
            "-w",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip().endswith("200"), done.stdout + done.stderr
    captures = read_kind(data_dir, "captures")
    assert [c["source"] for c in captures] == ["crm", "default"]
    assert captures[1]["body"] == SEED_WEB_ACTIVITY
    wait_until(lambda: backlog(data_dir) == 0)
    run_burst_worker(proc_env)
    events = {e["event_id"]: e for e in read_kind(data_dir, "events")}
    assert set(events) == {"g-1", "2a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8"}
    assert events["g-1"]["att_params"] == payload["smartech_panel"][0]["att_params"]
    assert events["g-1"]["channel"] == "sms" and events["g-1"]["activity"] == "click"
    web = events["2a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8"]
    assert web["ts"] == "2018-12-12T12:07:08" and web["att_params"]["CITY"] == "Thane&Kalyan"
    assert any("<div>" in w for w in web["warnings"])
    assert read_kind(data_dir, "rejects") == []
    assert PASSWORD not in all_text(data_dir)


def test_the_vendors_samples_posted_again_are_new_events_unless_they_carry_the_same_guid(server, proc_env, data_dir):
    # The vendor's SMS_CLICK in full (its page cuts the cURL line short), as `send` posts it: no guid, no time.
    sms_click = dict(samples.sample_bodies())["SMS_CLICK"]
    web_activity = SEED_WEB_ACTIVITY  # the vendor's cURL line whole, with the guid 2a867f6d-…
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    ids = []
    for body in (sms_click, sms_click, sms_click, web_activity, web_activity):
        answer = requests.post(server + "/webhook/", data=body, headers=headers, auth=(USER, PASSWORD), timeout=10)
        assert answer.status_code == 200
        ids.append(answer.json()["id"])
    wait_until(lambda: backlog(data_dir) == 0)
    run_burst_worker(proc_env)
    events = read_kind(data_dir, "events")
    assert [e["event_id"] for e in events] == [f"c:{i}:0" for i in ids[:3]] + ["2a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8"]
    assert [e["repeat_of"] for e in events] == [None, events[0]["event_id"], events[1]["event_id"], None]
    replay = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "replay", "--enqueue", "--data-dir", data_dir, "--since", "1h"],
        env=proc_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    run_burst_worker(proc_env)
    assert read_kind(data_dir, "events") == events  # replayed: nothing new


def test_chunked_bodies_are_whole_or_refused(server, data_dir):
    def chunks(total):
        sent = 0
        while sent < total:
            piece = min(1000, total - sent)
            sent += piece
            yield b"x" * piece

    small = requests.post(
        server + "/webhook",
        data=chunks(5000),
        auth=(USER, PASSWORD),
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert small.status_code == 200
    big = requests.post(
        server + "/webhook",
        data=chunks(50000),
        auth=(USER, PASSWORD),
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    [record] = read_kind(data_dir, "captures")
    assert record["size"] == 5000 and record["body"] == "x" * 5000


def test_parallel_posts_across_processes_keep_lines_whole(server, data_dir):
    bodies = [f"data=%7B%22n%22%3A{i}%7D&pad=" + "y" * (4000 + i) for i in range(200)]

    def send(body):
        return requests.post(
            server + "/webhook",
            data=body,
            auth=(USER, PASSWORD),
            timeout=30,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, bodies))
    assert statuses == [200] * len(bodies)
    assert sorted(c["body"] for c in read_kind(data_dir, "captures")) == sorted(bodies)


@pytest.mark.parametrize("name, value", [("DUMPER_ALLOWED_IPS", "10.0.0.0/99"), ("DUMPER_WEB_CONNECTIONS", "many")])
def test_bad_setting_stops_gunicorn_itself_naming_the_setting(proc_env, name, value):
    cmd = [
        os.path.join(BIN, "gunicorn"),
        "--config",
        "python:receiver.web.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{free_port()}",
        "receiver.web:create_app()",
    ]
    done = subprocess.run(cmd, env={**proc_env, name: value}, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"bad setting: {name}" in done.stderr and "Traceback" not in done.stderr


def test_worker_with_bad_redis_url_fails_with_a_clear_message(proc_env):
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "worker", "--burst"],
        env={**proc_env, "REDIS_URL": "unix:///nonexistent/r.sock"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr and "Traceback" not in done.stderr


WEB_ONLY = ("flask", "werkzeug", "gunicorn")  # the webhook's and the inspector's: never the worker's or the forwarder's


def imported_by(command, env):
    """Run ``python -X importtime -m scripts <command>`` to its end; return the modules it imported."""
    done = subprocess.run(
        [os.path.join(BIN, "python"), "-X", "importtime", "-m", "scripts", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}


def test_a_worker_and_the_forwarder_never_load_the_web(proc_env, data_dir, tmp_path):
    """The forwarder hands a real capture over and a worker writes and routes its events: neither loads the web."""
    routes = write_routes(
        tmp_path,
        {"db": {"type": "sql", "url": f"sqlite:///{tmp_path / 'sink.sqlite3'}"}},
        [{"name": "all", "to": ["db"]}],
    )
    env = {**proc_env, "DUMPER_ROUTES": str(routes)}
    capture = make_capture(datetime.now(UTC), samples.encode_body(samples.payload([samples.CHANNEL_EVENTS[0]])))
    append_records(data_dir, "captures", [capture], capture["received_at"][:10])
    forwarder = imported_by(["forward", "--once"], env)
    worker = imported_by(["worker", "--burst"], env)
    assert {"receiver.forwarder.loop", "rq"} <= forwarder
    assert {"jobs.worker.runner", "receiver.ledger.writer", "jobs.routing.sql", "sqlalchemy"} <= worker
    assert len(read_kind(data_dir, "events")) == 1  # it ran the job, which routed the event to the sql sink
    assert sqlite3.connect(tmp_path / "sink.sqlite3").execute("SELECT count(*) FROM smartech_events").fetchone() == (1,)
    assert not [name for name in forwarder | worker if name.split(".")[0] in WEB_ONLY]
