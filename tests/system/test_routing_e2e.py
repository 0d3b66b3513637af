"""Routing end to end with real parts: serve, a worker, Redis, a call-center HTTP server, SQLite.

A Smartech-shaped POST goes in; the test waits for the sink's effect (an HTTP call, a row) or for
its absence when a follow-up came in time.
"""

import json
import os
import sqlite3
import threading
import time
from urllib.parse import urlencode

import pytest
import redis
import requests
from click.testing import CliRunner
from flask import Flask, request
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.routing.deliver import SINK_JOB
from receiver.core.keys import job_id
from receiver.core.queues import RESULT_TTL, enqueue_jobs_absent, queue_for
from receiver.core.settings import load
from receiver.replay import samples
from receiver.routes.status import sink_counts
from scripts.cli import main
from tests.support.helpers import PASSWORD, ROOT, USER, read_kind, serve, wait_until
from tests.support.procs import FORM, Web, children, start_worker, stop
from tests.support.sink_targets import RawTarget

pytestmark = pytest.mark.slow


class CallCenter:
    """A real HTTP server that records every task it receives; ``/slow`` takes 100 ms a call."""

    def __init__(self):
        self.tasks, self.lock = [], threading.Lock()
        app = Flask(__name__)

        @app.post("/<kind>")
        def task(kind):
            if kind == "slow":
                time.sleep(0.1)
            with self.lock:
                self.tasks.append(
                    {
                        "kind": kind,
                        "at": time.monotonic(),
                        "headers": dict(request.headers),
                        "event": request.get_json(),
                    }
                )
            return {"ok": True}

        self.app = app

    def received(self, kind):
        with self.lock:
            return [task for task in self.tasks if task["kind"] == kind]


@pytest.fixture
def callcenter():
    center = CallCenter()
    server = serve(center.app)
    center.url = next(server)
    yield center
    next(server, None)


@pytest.fixture
def stack(env, data_dir, tmp_path):
    """Start serve and one worker with a routes file written by the test; stop them after."""
    started = {}

    def start(routes_text, workers=1, **extra):
        path = tmp_path / "routes.toml"
        path.write_text(routes_text)
        full = {
            **os.environ,
            **env,
            "DUMPER_FORWARDER": "true",
            "DUMPER_ROUTES": str(path),
            "PYTHONPATH": ROOT,
            "CALLCENTER_TOKEN": "t0ken",
            "DUMPER_RETRY_INTERVALS": "1s",
            **extra,
        }
        started["env"] = full
        started["web"] = Web(full)
        started["workers"] = start.workers = [start_worker(full) for _ in range(workers)]
        return started["web"], full

    yield start
    for worker in started.get("workers", []):
        os.killpg(worker.pid, 15)
        stop(worker)
    if "web" in started:
        started["web"].stop()


def post(web, events, panel=samples.PANEL):
    body = urlencode({"data": json.dumps({panel: events}, ensure_ascii=False)})
    answer = requests.post(web.url + "/webhook", data=body, headers=FORM, auth=(USER, PASSWORD), timeout=10)
    assert answer.status_code == 200
    return answer.json()["id"]


def web_activity(name, foreignkey, guid, **payload):
    return {
        "channel": "custom_activity",
        "webhook_name": name,
        "payload_params": payload,
        "event_params": {"foreignkey": foreignkey, "guid": guid, "ts": 181212120708},
    }


def lead(score, guid, foreignkey="9999999997"):
    event = samples.channel_event("SMS_CLICK")
    event["custom_params"]["leadscore"] = score
    event["event_params"].update(guid=guid, foreignkey=foreignkey)
    return event


def example(name, callcenter_url, after=None):
    text = open(os.path.join(ROOT, "examples", name)).read().replace("http://127.0.0.1:9000", callcenter_url)
    if after:
        text = text.replace('after = "30m"', f'after = "{after}"').replace('after = "1h"', f'after = "{after}"')
    return text


def test_insurance_hot_leads_reach_the_call_center_and_every_event_the_database(stack, callcenter, data_dir):
    web, _ = stack(example("insurance-hot-leads.toml", callcenter.url))
    post(web, [lead("s1", "hot-1"), lead("s9", "cold-1")])
    wait_until(lambda: callcenter.received("tasks"), timeout=60)
    database = os.path.join(data_dir, "events.sqlite3")
    wait_until(lambda: os.path.exists(database) and rows(database) == 2, timeout=60)
    [task] = callcenter.received("tasks")
    assert task["event"]["event_id"] == "hot-1" and task["event"]["route"] == "hot-leads"
    assert task["headers"]["Authorization"] == "Bearer t0ken" and task["headers"]["Idempotency-Key"] == "hot-1"
    assert task["headers"]["X-Task-Type"] == "hot-lead" and task["headers"]["Content-Type"] == "application/json"


def rows(database, where=""):
    """Return the sink table's row count; 0 while the sink has made the file but not yet its table."""
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute(f"SELECT count(*) FROM smartech_events {where}").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            raise


def test_travel_a_search_without_booking_gets_a_task_and_one_with_a_booking_does_not(stack, callcenter):
    web, _ = stack(example("travel-no-booking.toml", callcenter.url, after="3s"))
    post(
        web,
        [
            web_activity("Flight Search", "cust-A", "search-A", cabin="business"),
            web_activity("Flight Search", "cust-B", "search-B", cabin="business"),
            web_activity("Flight Search", "cust-C", "search-C", cabin="economy"),
        ],
    )
    post(web, [web_activity("Flight Booked", "cust-A", "booked-A")])  # A books within the 3 s
    wait_until(lambda: callcenter.received("tasks"), timeout=60)
    time.sleep(4)  # A's check has run by now too
    tasks = callcenter.received("tasks")
    assert [task["event"]["foreignkey"] for task in tasks] == ["cust-B"]
    assert tasks[0]["event"]["route"] == "business-class-not-booked" and tasks[0]["event"]["due_at"].endswith("Z")


def test_ecommerce_a_high_value_cart_abandoned_gets_a_task_and_the_python_sink(stack, callcenter, tmp_path):
    carts = tmp_path / "carts.jsonl"  # examples/python_sink.py appends there, in the worker
    web, _ = stack(example("ecommerce-abandoned-cart.toml", callcenter.url, after="3s"), PYTHON_SINK_FILE=str(carts))
    post(
        web,
        [
            web_activity("Add To Cart", "cust-rich", "cart-1", items=[{"price_s": "9990.91"}]),
            web_activity("Add To Cart", "cust-poor", "cart-2", items=[{"price_s": "120"}]),
            web_activity("Add To Cart", "cust-buyer", "cart-3", items=[{"price_s": 7000}]),
        ],
    )
    post(web, [web_activity("Purchase", "cust-buyer", "purchase-3")])
    wait_until(lambda: callcenter.received("tasks"), timeout=60)
    wait_until(lambda: carts.exists() and carts.read_text().strip(), timeout=30)
    time.sleep(4)
    assert [task["event"]["foreignkey"] for task in callcenter.received("tasks")] == ["cust-rich"]
    assert [json.loads(line)["foreignkey"] for line in carts.read_text().splitlines()] == ["cust-rich"]


def test_a_hot_lead_overtakes_500_slow_low_priority_deliveries(stack, callcenter, data_dir):
    web, env = stack(f"""
[sinks.slow]
type = "http"
url = "{callcenter.url}/slow"
[sinks.hot]
type = "http"
url = "{callcenter.url}/hot"
[[routes]]
name = "hot"
when = {{ "custom_params.leadscore" = "s1" }}
to = ["hot"]
queue = "high"
""")
    settings = load(env)
    queue = queue_for(settings, redis.Redis.from_url(settings.redis_url), "low")
    backlog = [{"event_id": f"low-{n}", "received_at": "2026-11-29T10:00:00.000Z"} for n in range(500)]
    enqueue_jobs_absent(
        queue,
        [
            Queue.prepare_data(SINK_JOB, args=("slow", [event]), job_id=job_id("x", str(n)), result_ttl=RESULT_TTL)
            for n, event in enumerate(backlog)
        ],
    )
    wait_until(lambda: callcenter.received("slow"), timeout=60)  # the worker is busy with the slow backlog
    posted = time.monotonic()
    post(web, [lead("s1", "hot-lead-1")])
    wait_until(lambda: callcenter.received("hot"), timeout=30)
    waited = callcenter.received("hot")[0]["at"] - posted
    print(f"the hot lead reached its sink {waited:.2f}s after its post")
    assert waited < 2.0, f"the hot lead waited {waited:.1f}s behind low-priority deliveries"
    assert len(callcenter.received("slow")) < 100  # most of the backlog is still waiting


@pytest.fixture
def silent_target():
    target = RawTarget("silent")
    yield target
    target.close()


def events_with(data_dir, guid):
    return [event for event in read_kind(data_dir, "events") if event["event_id"] == guid]


def test_a_capture_is_processed_at_once_behind_6_hot_leads_to_a_sink_that_never_answers(stack, silent_target, data_dir):
    web, _ = stack(f"""
[sinks.dead]
type = "http"
url = "{silent_target.url}"
timeout = "3s"
retries = "2s,2s"
[[routes]]
name = "hot"
when = {{ "custom_params.leadscore" = "s1" }}
to = ["dead"]
queue = "high"
""")
    for n in range(6):
        post(web, [lead("s1", f"hot-{n}")])
    wait_until(lambda: silent_target.connections, timeout=60)  # a worker is inside the first delivery
    posted = time.monotonic()
    post(web, [lead("s9", "unrelated")])
    wait_until(lambda: events_with(data_dir, "unrelated"), timeout=120)
    waited = time.monotonic() - posted
    print(f"the unrelated capture reached the events file {waited:.2f}s after its post")
    assert waited < 5.0, f"the unrelated capture waited {waited:.1f}s behind deliveries to a hung sink"


def test_a_hot_lead_to_a_healthy_sink_waits_one_attempt_at_most_behind_6_leads_to_a_dead_one(
    stack, silent_target, callcenter
):
    web, _ = stack(f"""
[sinks.dead]
type = "http"
url = "{silent_target.url}"
timeout = "3s"
retries = "2s,2s"
[sinks.hot]
type = "http"
url = "{callcenter.url}/hot"
[[routes]]
name = "dead"
when = {{ "custom_params.leadscore" = "s1" }}
to = ["dead"]
queue = "high"
[[routes]]
name = "healthy"
when = {{ "custom_params.leadscore" = "s2" }}
to = ["hot"]
queue = "high"
""")
    for n in range(6):
        post(web, [lead("s1", f"hot-{n}")])
    wait_until(lambda: silent_target.connections, timeout=60)  # the delivery lane is inside the first attempt
    posted = time.monotonic()
    post(web, [lead("s2", "healthy")])
    wait_until(lambda: callcenter.received("hot"), timeout=120)
    waited = callcenter.received("hot")[0]["at"] - posted
    print(f"the healthy sink's hot lead reached it {waited:.2f}s after its post")
    assert waited < 5.0, f"the healthy sink's hot lead waited {waited:.1f}s behind a dead sink"


def peak_rss_mib(pid):
    """Return the highest peak RSS (VmHWM) of ``pid`` and its children, in MiB."""
    peaks = []
    for each in [pid, *children(pid)]:
        with open(f"/proc/{each}/status") as status:
            peaks += [int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")]
    return max(peaks)


def test_a_200_mib_error_answer_is_a_dead_letter_with_its_first_kib_and_no_memory_spike(stack, data_dir):
    target = RawTarget("huge-error", size=200 << 20)
    try:
        web, env = stack(f"""
[sinks.big]
type = "http"
url = "{target.url}"
retries = "none"
timeout = "60s"
[[routes]]
name = "hot"
when = {{ "custom_params.leadscore" = "s1" }}
to = ["big"]
queue = "high"
""")
        post(web, [lead("s1", "hot-big")])
        settings = load(env)
        connection = redis.Redis.from_url(settings.redis_url)
        wait_until(lambda: sink_counts(settings, connection)["big"]["dead"] == 1, timeout=60)
        [job_id_] = queue_for(settings, connection, "high").failed_job_registry.get_job_ids()
        reason = Job.fetch(job_id_, connection=connection, serializer=JSONSerializer).latest_result().exc_string
        peak = peak_rss_mib(stack.workers[0].pid)
    finally:
        target.close()
    assert "HTTP 500: " + "x" * 1024 in reason and "x" * 1025 not in reason
    assert peak < 150, f"a worker reached {peak:.0f} MiB of RSS on a 200 MiB error answer"
    print(f"worker peak RSS on a 200 MiB error answer: {peak:.0f} MiB")


def test_a_replay_of_the_whole_window_adds_no_row_and_no_http_call(stack, callcenter, data_dir):
    web, env = stack(f"""
[sinks.cc]
type = "http"
url = "{callcenter.url}/tasks"
[sinks.db]
type = "sql"
[[routes]]
name = "all"
to = ["cc", "db"]
""")
    for n in range(5):
        post(web, [lead("s1", f"g-{n}-a"), lead("s2", f"g-{n}-b")])
    database = os.path.join(data_dir, "events.sqlite3")
    wait_until(
        lambda: len(callcenter.received("tasks")) == 10 and os.path.exists(database) and rows(database) == 10,
        timeout=60,
    )
    replayed = CliRunner().invoke(main, ["replay", "--enqueue", "--since", "1h", "-q"], env=env)
    assert replayed.exit_code == 0, replayed.output
    time.sleep(8)  # the replayed captures are processed and routed again
    assert len(read_kind(data_dir, "events")) == 10
    assert len(callcenter.received("tasks")) == 10 and rows(database) == 10
