"""Issue 23's edges against real processes: refused posts kept and announced, the books kept continuously.

Real `serve` (gunicorn, the forwarder, the alert monitor with its continuous audit), a real SMTP
server, real RQ workers, `inspect` for /metrics, the `smartech-dumper` CLI, and a private Redis.
"""

import json
import os
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from receiver.core import keys
from receiver.metrics import names
from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER, backlog, read_kind, wait_until
from tests.support.procs import BIN, logged_popen, run_burst_worker, start_serve, stop, wait_http
from tests.support.smtp_server import smtp_server

pytestmark = pytest.mark.slow
SCRAPER = ("prometheus", "scrape-pw")


def body(*keys_):
    """Return a Smartech form body with one EMAIL_OPEN event per customer key."""
    events = [{"webhook_name": "EMAIL_OPEN", "event_params": {"foreignkey": key}} for key in keys_]
    return {"data": json.dumps({"smartech": events})}


def cli(proc_env, *args):
    """Run ``smartech-dumper ARGS``; return the finished process."""
    return subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), *args], env=proc_env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def stack(env, data_dir):
    """Start an SMTP server and `serve` behind an allowlist with alerts; yield ``(url, environment, inbox)``."""
    with smtp_server() as (smtp_port, inbox):
        proc_env = {
            **os.environ,
            **env,
            "DUMPER_FORWARDER": "true",
            "DUMPER_ALLOWED_IPS": "127.0.0.0/8",  # the quarantine is on by default behind an allowlist
            "DUMPER_ALERT_EMAILS": "ops@example.com",
            "DUMPER_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DUMPER_AUDIT_EVERY": "1s",  # every check of the monitor (10 s) audits
            "DUMPER_INSPECT_AUTH": "viewer:look",
            "DUMPER_METRICS_AUTH": ":".join(SCRAPER),
        }
        port = free_port()
        proc = start_serve(proc_env, port, workers=1)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
            yield f"http://127.0.0.1:{port}", proc_env, inbox
        finally:
            stop(proc)


def test_refused_posts_are_kept_announced_and_released_exactly_once(stack, data_dir):
    url, proc_env, inbox = stack
    # Smartech's panel got a new password; ours did not: every post is refused.
    for sent in (body("9999999991"), body("9999999992", "9999999993")):
        answer = requests.post(url + "/webhook/crm", data=sent, auth=(USER, "rotated-in-the-panel"), timeout=10)
        assert answer.status_code == 401
    assert read_kind(data_dir, "captures") == []

    wait_until(lambda: inbox.messages, timeout=40)
    [message] = inbox.messages
    assert "2 posts refused for credentials" in message["Subject"]
    text = message.get_content()
    assert "REFUSED: Smartech is posting with credentials we do not accept; it will disable the webhook." in text
    assert "smartech-dumper quarantine release --all" in text
    assert requests.get(url + "/readyz", timeout=5).json()["quarantine"]["recent"] == 2

    listed = cli(proc_env, "quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(entry["source"], entry["released_as"]) for entry in entries] == [("crm", None), ("crm", None)]
    for name in os.listdir(os.path.join(data_dir, "quarantine")):
        with open(os.path.join(data_dir, "quarantine", name), "rb") as handle:
            kept = handle.read()
        assert b"Authorization" not in kept and b"cm90YXRlZC1pbi10aGUtcGFuZWw" not in kept

    released = cli(proc_env, "quarantine", "release", *(entry["id"] for entry in entries))
    assert released.returncode == 0, released.stderr
    assert released.stdout.count("released ") == 2
    wait_until(lambda: backlog(data_dir) == 0)
    run_burst_worker(proc_env)
    events = read_kind(data_dir, "events")
    assert sorted(event["foreignkey"] for event in events) == ["9999999991", "9999999992", "9999999993"]
    captures = read_kind(data_dir, "captures")
    assert sorted(capture["released_from"] for capture in captures) == sorted(entry["id"] for entry in entries)

    again = cli(proc_env, "quarantine", "release", *(entry["id"] for entry in entries))
    assert again.returncode == 0 and again.stdout.count("was already released") == 2
    run_burst_worker(proc_env)
    assert len(read_kind(data_dir, "captures")) == 2 and len(read_kind(data_dir, "events")) == 3
    assert cli(proc_env, "audit").returncode == 0  # the books balance: two captures, processed


def scrape(url):
    """Return ``{name: value}`` of one scrape of the inspector's /metrics (unlabelled samples)."""
    answer = requests.get(url + "/metrics", auth=SCRAPER, timeout=10)
    assert answer.status_code == 200, answer.text
    return {s.name: s.value for f in text_string_to_metric_families(answer.text) for s in f.samples if not s.labels}


def test_jobs_flushed_from_redis_before_any_worker_are_found_by_the_monitor(stack, data_dir, redis_conn):
    url, proc_env, inbox = stack
    ids = []
    for key in ("9999999994", "9999999995"):
        answer = requests.post(url + "/webhook/", data=body(key), auth=(USER, PASSWORD), timeout=10)
        assert answer.status_code == 200
        ids.append(answer.json()["id"])
    wait_until(lambda: backlog(data_dir) == 0)
    queue = proc_env["DUMPER_QUEUE"]
    wait_until(lambda: all(redis_conn.exists(keys.capture_job(queue, capture_id)) for capture_id in ids))
    redis_conn.flushdb()  # Redis lost its data before any worker ran

    wait_until(lambda: inbox.messages, timeout=40)
    [message] = inbox.messages
    assert "audit: 2 missing, 0 stuck" in message["Subject"]
    text = message.get_content()
    assert "AUDIT: the audit of the captures received in the last 50m found 2 missing" in text
    assert all(capture_id in text for capture_id in ids)
    audit_state = requests.get(url + "/readyz", timeout=5).json()["audit"]
    assert (audit_state["captures"], audit_state["missing"], audit_state["stuck"]) == (2, 2, 0)

    port = free_port()
    inspector = logged_popen([os.path.join(BIN, "smartech-dumper"), "inspect", "--bind", f"127.0.0.1:{port}"], proc_env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", inspector)
        found = scrape(f"http://127.0.0.1:{port}")
    finally:
        stop(inspector)
    assert found[names.AUDIT_MISSING] == 2 and found[names.AUDIT_CAPTURES] == 2 and found[names.AUDIT_AGE] < 60

    requeued = cli(proc_env, "audit", "--json", "--requeue")
    assert requeued.returncode == 1 and sorted(json.loads(requeued.stdout)["requeued"]) == sorted(ids)
    run_burst_worker(proc_env)
    assert sorted(event["capture_id"] for event in read_kind(data_dir, "events")) == sorted(ids)
    after = cli(proc_env, "audit", "--json")
    assert after.returncode == 0 and json.loads(after.stdout)["totals"]["missing"] == 0
