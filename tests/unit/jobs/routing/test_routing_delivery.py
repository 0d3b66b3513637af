"""Delivery jobs through RQ workers in this process and the private Redis: dead letters, retries that send only
the rest, sinks that never re-run each other, replays that deliver nothing twice, and the per-sink counts."""

import os
import sqlite3
import time

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import make_url

from jobs.routing import state
from jobs.worker.runner import build_worker
from receiver.core import queues as queueing
from receiver.core.keys import job_id
from receiver.core.queues import queue_for
from receiver.core.settings import load
from receiver.forwarder import enqueue
from receiver.ops.readiness import redis_status
from receiver.routes.status import deliveries_of, sink_counts
from tests.support import sink_targets
from tests.support.batches import forget
from tests.support.helpers import SETTING_PREFIXES, wait_until
from tests.support.routing_helpers import ROUTE, Endpoint, capture_with, events_of, write_routes

RETRY_SECONDS = 1  # the shortest interval RQ schedules


@pytest.fixture
def endpoint():
    """Yield a recording HTTP endpoint on a free port."""
    server = Endpoint()
    yield server
    server.close()


@pytest.fixture
def routed(env, monkeypatch, tmp_path):
    """Set the test settings; return a function that writes a routes file of ``sinks`` and returns the settings."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sink_targets.RECEIVED.clear()
    sink_targets.FAIL_ON.clear()

    def with_routes(sinks, queue="default"):
        path = write_routes(tmp_path, sinks, [{"name": ROUTE, "to": list(sinks), "queue": queue}])
        monkeypatch.setenv("DUMPER_ROUTES", path)
        return load()

    return with_routes


def send(settings, capture):
    """Queue ``capture`` as the forwarder does."""
    assert enqueue.enqueue_capture(queueing.get_queue(settings), capture, settings)


def drain(settings, retries_due=False):
    """Run our worker in this process until its queues are empty; with ``retries_due``, run due retries first."""
    worker = build_worker(settings)
    worker.work(burst=True, with_scheduler=retries_due, logging_level="WARNING")
    worker.connection.close()


def delivery_job(settings, capture, sink, priority="default"):
    """Return the delivery job of ``capture`` to ``sink``."""
    ident = job_id("deliver", f"{capture['id']}\0{priority}", sink)
    return Job.fetch(ident, connection=queueing.connect(settings), serializer=JSONSerializer)


def drain_retries(settings, done, timeout=15.0):
    """Let the retry intervals pass and drain with due retries until ``done()`` (or ``timeout`` s).

    RQ schedules in whole seconds and a busy machine may start the scheduler late, so one fixed sleep
    and one drain can miss a retry that is due a moment later.
    """
    deadline = time.monotonic() + timeout
    time.sleep(RETRY_SECONDS + 0.2)
    while True:
        drain(settings, retries_due=True)
        if done() or time.monotonic() > deadline:
            return
        time.sleep(0.3)


def ids_of(capture):
    """Return the event ids of ``capture``, in order."""
    return [event["event_id"] for event in events_of(capture)]


def test_a_4xx_delivery_ends_in_the_dead_letters_with_no_retry_left(routed, endpoint):
    settings = routed({"crm": {"type": "http", "url": endpoint.to("crm"), "retries": "1s,1s"}})
    endpoint.will_answer("crm", (422, "lead refused: no such campaign"))
    capture = capture_with(2)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "crm")
    assert job.get_status() == "failed"
    assert job.retries_left == 0
    assert job.id in queue_for(settings, job.connection, "default").failed_job_registry
    assert job.id not in queue_for(settings, job.connection, "default").scheduled_job_registry
    assert "HTTP 422: lead refused: no such campaign" in job.latest_result().exc_string
    assert len(endpoint.requests_to("crm")) == 1  # the first event was refused; nothing more was tried


def test_a_5xx_delivery_is_scheduled_for_a_retry(routed, endpoint):
    settings = routed({"crm": {"type": "http", "url": endpoint.to("crm"), "retries": "1m,5m"}})
    endpoint.will_answer("crm", 503)
    capture = capture_with(2)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "crm")
    assert job.get_status() == "scheduled"
    assert job.retries_left == 1
    assert job.id in queue_for(settings, job.connection, "default").scheduled_job_registry
    assert sink_counts(settings, job.connection)["crm"] == {"delivered": 0, "retrying": 1, "dead": 0}


def test_a_sink_that_did_not_answer_rests_and_its_next_delivery_waits_untried_keeping_its_retries(routed):
    target = sink_targets.RawTarget("silent")
    try:
        settings = routed({"dead": {"type": "http", "url": target.url, "timeout": "3s", "retries": "1m,5m"}})
        first, second = capture_with(1), capture_with(1)
        send(settings, first)
        drain(settings)  # the first delivery tries the sink, which never answers: 3 s
        tried = target.connections
        send(settings, second)
        drain(settings)
    finally:
        target.close()
    assert tried == 1 and target.connections == 1  # the second delivery did not try the resting sink
    untried = delivery_job(settings, second, "dead")
    assert untried.get_status() == "scheduled" and untried.retries_left == 2  # none spent
    assert delivery_job(settings, first, "dead").retries_left == 1
    assert 0 < state.resting(untried.connection, settings.queue, "dead") <= 3


def test_a_retry_sends_only_the_events_the_failure_stopped(routed, endpoint):
    settings = routed({"crm": {"type": "http", "url": endpoint.to("crm"), "retries": f"{RETRY_SECONDS}s"}})
    endpoint.will_answer("crm", 200, 200, 503)
    capture = capture_with(3)
    ids = ids_of(capture)
    send(settings, capture)
    drain(settings)
    assert delivery_job(settings, capture, "crm").get_status() == "scheduled"
    drain_retries(settings, lambda: delivery_job(settings, capture, "crm").get_status() != "scheduled")
    job = delivery_job(settings, capture, "crm")
    assert job.get_status() == "finished"
    assert job.return_value() == {"sink": "crm", "delivered": 1, "already": 2}
    assert endpoint.keys("crm") == [ids[0], ids[1], ids[2], ids[2]]


def test_a_failing_sink_never_reruns_the_sinks_that_took_the_events_and_the_counts_move(routed, endpoint, data_dir):
    settings = routed(
        {
            "ok": {"type": "http", "url": endpoint.to("ok")},
            "flaky": {"type": "http", "url": endpoint.to("flaky"), "retries": f"{RETRY_SECONDS}s"},
            "broken": {"type": "http", "url": endpoint.to("broken")},
            "code": {"type": "python", "callable": "tests.support.sink_targets:record"},
            "table": {"type": "sql"},
        }
    )
    endpoint.will_answer("flaky", 500)
    endpoint.will_answer("broken", 400)
    capture = capture_with(3)
    ids = ids_of(capture)
    send(settings, capture)
    drain(settings)
    connection = queueing.connect(settings)
    assert sink_counts(settings, connection) == {
        "ok": {"delivered": 3, "retrying": 0, "dead": 0},
        "flaky": {"delivered": 0, "retrying": 1, "dead": 0},
        "broken": {"delivered": 0, "retrying": 0, "dead": 1},
        "code": {"delivered": 3, "retrying": 0, "dead": 0},
        "table": {"delivered": 3, "retrying": 0, "dead": 0},
    }
    statuses = {row["sink"]: row["status"] for row in deliveries_of(settings, connection, capture["id"])}
    assert statuses == {
        "ok": "finished",
        "flaky": "scheduled",
        "broken": "failed",
        "code": "finished",
        "table": "finished",
    }

    drain_retries(settings, lambda: sink_counts(settings, connection)["flaky"]["retrying"] == 0)
    assert sink_counts(settings, connection)["flaky"] == {"delivered": 3, "retrying": 0, "dead": 0}
    assert endpoint.keys("flaky") == [ids[0], *ids]
    assert endpoint.keys("ok") == ids  # once each: the flaky sink's retry ran no other sink
    assert [event["event_id"] for event in sink_targets.RECEIVED] == ids
    with sqlite3.connect(os.path.join(data_dir, "events.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM smartech_events").fetchone() == (3,)


def test_a_capture_processed_again_after_its_jobs_expired_delivers_nothing_twice(routed, endpoint, data_dir):
    settings = routed({"crm": {"type": "http", "url": endpoint.to("crm")}, "table": {"type": "sql"}})
    capture = capture_with(2)
    send(settings, capture)
    drain(settings)
    for sink in ("crm", "table"):  # as if RESULT_TTL had passed: the same job ids can be queued again
        delivery_job(settings, capture, sink).delete()
    forget(queueing.connect(settings), capture["id"])
    send(settings, capture)  # a replay
    drain(settings)
    for sink in ("crm", "table"):
        job = delivery_job(settings, capture, sink)
        assert job.get_status() == "finished"
        assert job.return_value() == {"sink": sink, "delivered": 0, "already": 2}
    assert len(endpoint.requests_to("crm")) == 2
    with sqlite3.connect(os.path.join(data_dir, "events.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM smartech_events").fetchone() == (2,)


def test_a_redis_that_lost_its_data_adds_no_row_to_postgres(routed, postgres_server, postgres_url, redis_conn):
    settings = routed({"warehouse": {"type": "sql", "url": postgres_url}})
    capture = capture_with(3)
    send(settings, capture)
    drain(settings)
    redis_conn.flushall()  # every job and every "delivered" mark gone
    send(settings, capture)
    drain(settings)
    assert delivery_job(settings, capture, "warehouse").return_value()["delivered"] == 3  # Redis forgot them
    with postgres_server.connect(make_url(postgres_url).database) as db:
        assert db.execute("SELECT count(*) FROM smartech_events").fetchone() == (3,)


def test_a_high_priority_route_delivers_through_the_high_queue(routed, endpoint):
    settings = routed({"crm": {"type": "http", "url": endpoint.to("crm")}}, queue="high")
    capture = capture_with(1)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "crm", priority="high")
    assert job.origin == f"{settings.queue}-high" and job.get_status() == "finished"
    assert endpoint.keys("crm") == ids_of(capture)


def test_a_scheduled_check_is_not_a_retry_and_runs_when_due(routed, endpoint, monkeypatch, tmp_path, redis_conn):
    routed({})
    sinks = {"crm": {"type": "http", "url": endpoint.to("crm")}}
    check = {"name": "no-follow-up", "to": ["crm"], "after": "1s", "unless": {"activity": "never-sent"}}
    monkeypatch.setenv("DUMPER_ROUTES", write_routes(tmp_path, sinks, [check]))
    settings = load()
    send(settings, capture_with(1))
    drain(settings)
    state = redis_status(queueing.get_queue(settings))
    assert (state["retrying"], state["checks_scheduled"]) == (0, 1)
    assert endpoint.requests_to("crm") == []

    def due_and_run():
        drain(settings, retries_due=True)  # the worker's scheduler moves the check to its queue once it is due
        drain(settings)
        return endpoint.requests_to("crm")

    wait_until(due_and_run, timeout=15)  # polled, not slept: the check is due 1 s after it was planned
    sent = endpoint.requests_to("crm")
    assert len(sent) == 1 and b'"route": "no-follow-up"' in sent[0].body.replace(b'":"', b'": "')
    state = redis_status(queueing.get_queue(settings))
    assert (state["retrying"], state["checks_scheduled"], state["failed_count"]) == (0, 0, 0)
