"""``smartech-dumper forget`` with real processes: live under serve and a worker, and killed at random points."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
import zlib

import pytest
import redis
import requests
from rq import Queue

from jobs.process import run
from receiver.core import layout
from receiver.core.keys import queue_names
from receiver.core.settings import load
from receiver.ops import gzday
from tests.support import customers as people
from tests.support.capture_factory import FORM, days_ago, make_capture, write_captures
from tests.support.helpers import PASSWORD, USER, wait_until
from tests.support.procs import BIN, Web, start_worker, stop

pytestmark = pytest.mark.slow
FORGET = [os.path.join(BIN, "smartech-dumper"), "forget", "--customer", people.A_KEY, "--yes"]


def old_day(env, data_dir, count=3):
    """Write and process captures of A and B two days ago, then compress that day, as `compress` leaves it."""
    when = days_ago(2)
    bodies = [people.a_body(), people.b_body(), people.smartech(people.event(people.B_KEY, people.B_MOBILE))] * count
    captures = write_captures(data_dir, [make_capture(when.replace(minute=n), body) for n, body in enumerate(bodies)])
    run(load(environ=env), captures)
    for kind in (layout.CAPTURES, layout.EVENTS):
        gzday.compress(layout.day_path(data_dir, kind, when.strftime("%Y-%m-%d")))
    return captures


def post(url, body, content_type=FORM, auth=(USER, PASSWORD)):
    """POST one body; return the answer."""
    return requests.post(url + "/webhook/", data=body, headers={"Content-Type": content_type}, auth=auth, timeout=30)


def sql_rows(data_dir):
    """Return the (foreignkey, identity) of every row of the default sql sink."""
    connection = sqlite3.connect(os.path.join(data_dir, "events.sqlite3"))
    try:
        return connection.execute("SELECT foreignkey, identity FROM smartech_events").fetchall()
    except sqlite3.OperationalError:  # not made yet
        return []
    finally:
        connection.close()


def event_captures(data_dir):
    """Return the capture ids the events files hold events of."""
    return {
        json.loads(line)["capture_id"]
        for lines in people.lines_of_kind(data_dir, layout.EVENTS).values()
        for line in lines
        if line.strip()
    }


def deliveries_idle(redis_url, queue):
    """Say whether no job of ours waits, runs or is scheduled in any queue (the captures' and routing's)."""
    connection = redis.Redis.from_url(redis_url)
    try:
        for name in queue_names(queue):
            each = Queue(name, connection=connection)
            registries = (each.started_job_registry, each.scheduled_job_registry)
            if each.count or any(registry.count for registry in registries):
                return False
        return True
    finally:
        connection.close()


def test_forget_erases_a_customer_live_and_keeps_everyone_else_byte_for_byte(env, data_dir, redis_url, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text('[sinks.db]\ntype = "sql"\n\n[[routes]]\nname = "all"\nto = ["db"]\n')
    shared = {
        **os.environ,
        **env,
        "DUMPER_FORWARDER": "true",
        "DUMPER_ROUTES": str(routes),
        "DUMPER_QUARANTINE": "true",
    }
    old_day(shared, data_dir)
    web, worker = Web(shared), start_worker(shared)
    try:
        mixed = people.smartech(
            people.event(people.A_KEY, people.A_MOBILE), people.event(people.B_KEY, people.B_MOBILE)
        )
        bodies = [people.a_body(), people.b_body(), people.a_body(), mixed, people.b_body()]
        sent = [post(web.url, body).json()["id"] for body in bodies]
        sent.append(post(web.url, people.email_api(people.A_EMAIL), "application/json").json()["id"])
        assert post(web.url, people.a_body(), auth=(USER, "wrong")).status_code == 401  # kept in quarantine/
        torn = layout.spool_path(data_dir, layout.TORN_FILE)
        with open(torn, "ab") as handle:
            handle.write(
                json.dumps({"reason": "torn capture line", "text": people.a_body().decode()[:90]}).encode() + b"\n"
            )
        wait_until(
            lambda: set(sent) <= event_captures(data_dir) and len(sql_rows(data_dir)) >= len(sent) + 1, timeout=90
        )
        wait_until(lambda: deliveries_idle(redis_url, shared["DUMPER_QUEUE"]), timeout=60)  # the last ones land
        before = people.others_lines(data_dir)
        theirs = len([row for row in sql_rows(data_dir) if people.A_KEY in row or people.A_EMAIL in row])
        assert theirs >= 4  # 2 alone, 1 in a capture shared with B, 1 by the Email API (and the old day's)
        everything = dict(people.data_files(data_dir))
        dry = subprocess.run([*FORGET[:-1], "--dry-run"], env=shared, capture_output=True, text=True, timeout=120)
        assert dry.returncode == 0, dry.stderr
        assert (
            "would blank" in dry.stdout and f"sql sink db: {theirs} rows" in dry.stdout and "quarantine/" in dry.stdout
        )
        assert dict(people.data_files(data_dir)).keys() == everything.keys()

        during, stop_posting = [], threading.Event()

        def keep_posting():
            while not stop_posting.is_set():
                answer = post(web.url, people.b_body())
                assert answer.status_code == 200
                during.append(answer.json()["id"])

        poster = threading.Thread(target=keep_posting)
        poster.start()
        try:
            done = subprocess.run(FORGET, env=shared, capture_output=True, text=True, timeout=300)
        finally:
            stop_posting.set()
            poster.join()
        assert done.returncode == 0, done.stdout + done.stderr
        assert during and "erasure" in done.stdout
        wait_until(lambda: set(during) <= event_captures(data_dir), timeout=90)  # each post during it is processed

        assert people.traces(data_dir) == []
        assert not [row for row in sql_rows(data_dir) if people.A_KEY in row or people.A_EMAIL in row]
        assert len([row for row in sql_rows(data_dir) if row[0] == people.B_KEY]) >= 3
        assert people.unchanged(before, data_dir) == []
        connection = redis.Redis.from_url(redis_url)
        for key in connection.scan_iter(match="rq:job:*"):
            if connection.type(key) == b"hash" and connection.hget(key, "data"):
                assert people.A_KEY.encode() not in zlib.decompress(connection.hget(key, "data")), key
        with open(layout.spool_path(data_dir, layout.ERASURES_FILE), "rb") as handle:
            erasure = json.loads(handle.read().splitlines()[-1])
        assert erasure["customer"].startswith("k:") and erasure["sink_rows"] == {"db": theirs} and erasure["lines"] > 10

        again = post(web.url, people.a_body()).json()["id"]  # A came back: kept, the docs say so
        wait_until(lambda: again in event_captures(data_dir), timeout=60)
    finally:
        stop(worker)
        web.stop()


def test_a_forget_killed_at_random_points_then_run_again_leaves_consistent_files(env, data_dir):
    when = days_ago(1)
    bodies = [people.a_body() if n % 3 == 0 else people.b_body() for n in range(3000)]
    captures = write_captures(
        data_dir, [make_capture(when.replace(second=0, microsecond=n), b) for n, b in enumerate(bodies)]
    )
    run(load(environ=env), captures)
    for kind in (layout.CAPTURES, layout.EVENTS):
        gzday.compress(layout.day_path(data_dir, kind, when.strftime("%Y-%m-%d")))
    old_day(env, data_dir, count=1)
    today = write_captures(
        data_dir, [make_capture(days_ago(0), people.a_body()), make_capture(days_ago(0), people.b_body())]
    )
    run(load(environ=env), today)
    before, shape = (
        people.others_lines(data_dir),
        {key: [len(line) for line in lines] for key, lines in people.lines_of_kind(data_dir, layout.CAPTURES).items()},
    )
    shared = {**os.environ, **env}
    for _ in range(6):
        proc = subprocess.Popen(FORGET, env=shared, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for kind, lines in people.lines_of_kind(data_dir, layout.EVENTS).items():
            assert all(json.loads(line) for line in lines if line), kind  # never half-written
        assert {k: [len(x) for x in v] for k, v in people.lines_of_kind(data_dir, layout.CAPTURES).items()} == shape
    done = subprocess.run(FORGET, env=shared, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert people.traces(data_dir) == [] and people.unchanged(before, data_dir) == []
    assert {k: [len(x) for x in v] for k, v in people.lines_of_kind(data_dir, layout.CAPTURES).items()} == shape
    leftovers = [name for _, _, names in os.walk(data_dir) for name in names if ".forget." in name]
    assert leftovers == []
