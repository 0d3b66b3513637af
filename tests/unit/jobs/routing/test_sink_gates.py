"""A sink's gates through RQ workers in this process and the private Redis: its rate, its concurrency, its
Retry-After, its breaker and its pause make a delivery wait its turn, never fail and never spend a retry."""

import time
from email.utils import formatdate

import pytest

from jobs.routing import attempt, gates
from jobs.routing.httpcall import retry_after
from receiver.core import queues as queueing
from receiver.metrics import tally
from receiver.routes import sinkstate
from tests.support.routing_helpers import capture_with
from tests.unit.jobs.routing import test_routing_delivery as in_process
from tests.unit.jobs.routing.test_routing_delivery import delivery_job, drain, send

endpoint, routed = in_process.endpoint, in_process.routed
QUEUE = "smartech"


def test_retry_after_reads_seconds_and_http_dates():
    now = time.time()
    assert retry_after("2") == 2.0
    assert 59 <= retry_after(formatdate(now + 60, usegmt=True), now=now) <= 60
    assert retry_after(formatdate(now - 60, usegmt=True), now=now) == 0.0
    assert retry_after(None) is None and retry_after("soon") is None


def test_the_rate_spaces_deliveries_evenly_for_every_caller(redis_conn):
    assert gates.pace(redis_conn, QUEUE, "cc", 0.2) == 0
    wait = gates.pace(redis_conn, QUEUE, "cc", 0.2)
    assert 0.1 < wait <= 0.2  # the next slot is 200 ms after the first
    time.sleep(wait)
    assert gates.pace(redis_conn, QUEUE, "cc", 0.2) == 0


def test_concurrency_counts_deliveries_in_flight_and_a_dead_one_lapses(redis_conn):
    assert gates.enter(redis_conn, QUEUE, "cc", 1, "job-a", 0.3)
    assert not gates.enter(redis_conn, QUEUE, "cc", 1, "job-b", 10)
    gates.leave(redis_conn, QUEUE, "cc", "job-a")
    assert gates.enter(redis_conn, QUEUE, "cc", 1, "job-b", 0.3)
    time.sleep(0.4)  # job-b's worker died: its place lapses
    assert gates.enter(redis_conn, QUEUE, "cc", 1, "job-c", 10)


def test_the_breaker_opens_lets_one_probe_through_at_growing_waits_and_closes_on_success(redis_conn):
    assert not gates.failed(redis_conn, QUEUE, "cc", 2, 1.0)
    assert gates.failed(redis_conn, QUEUE, "cc", 2, 1.0)  # the second consecutive failure opens it
    assert sinkstate.breaker(redis_conn, QUEUE, "cc")["open"]
    assert 0.5 < gates.admit(redis_conn, QUEUE, "cc") <= 1.0
    time.sleep(1.05)
    assert gates.admit(redis_conn, QUEUE, "cc") == 0  # the probe
    assert 1.5 < gates.admit(redis_conn, QUEUE, "cc") <= 2.0  # the next one waits twice as long
    gates.succeeded(redis_conn, QUEUE, "cc")
    assert gates.admit(redis_conn, QUEUE, "cc") == 0 and not sinkstate.breaker(redis_conn, QUEUE, "cc")["open"]


def test_a_paused_sink_keeps_its_deliveries_waiting_with_their_retries(routed, endpoint):
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc"), "retries": "1m,5m"}})
    connection = queueing.connect(settings)
    assert sinkstate.pause(connection, settings.queue, "cc")
    capture = capture_with(2)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "cc")
    assert endpoint.requests_to("cc") == []
    assert job.get_status() == "scheduled" and job.retries_left == 2 and job.meta["waiting"] == attempt.PAUSED
    assert tally.read(connection, settings.queue, tally.DELIVERIES) == {("cc", tally.WAITED): 1}


def test_a_429_with_retry_after_holds_the_sink_and_spends_no_retry(routed, endpoint):
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc"), "retries": "1m,5m"}})
    endpoint.will_answer("cc", (429, "slow down", {"Retry-After": "3"}))
    capture = capture_with(1)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "cc")
    assert job.get_status() == "scheduled" and job.retries_left == 2
    assert job.meta["waiting"] == attempt.RETRY_AFTER and "HTTP 429 (Retry-After: 3s)" in job.meta["last_answer"]
    assert 2 < gates.held(job.connection, settings.queue, "cc") <= 3
    assert tally.read(job.connection, settings.queue, tally.DELIVERIES) == {("cc", tally.THROTTLED): 1}


def test_consecutive_failures_open_the_breaker_and_the_deliveries_then_wait_untried(routed, endpoint):
    breaker = {"breaker_after": 2, "breaker_probe": "1m"}
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc"), "retries": "1m,5m", **breaker}})
    endpoint.will_answer("cc", 503, 503, 503)
    first, second, third = capture_with(1), capture_with(1), capture_with(1)
    for capture in (first, second, third):
        send(settings, capture)
    drain(settings)
    assert len(endpoint.requests_to("cc")) == 2  # the third was not tried: the breaker is open
    assert delivery_job(settings, first, "cc").retries_left == 1  # a failure before the breaker opened
    for capture in (second, third):  # the failure that opened it, and the one that found it open: no retry spent
        job = delivery_job(settings, capture, "cc")
        assert job.get_status() == "scheduled" and job.retries_left == 2 and job.meta["waiting"] == attempt.BREAKER
    assert sinkstate.breaker(queueing.connect(settings), settings.queue, "cc")["open"]


def test_a_full_concurrency_keeps_a_delivery_waiting(routed, endpoint):
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc"), "concurrency": 1}})
    assert gates.enter(queueing.connect(settings), settings.queue, "cc", 1, "another-worker", 60)
    capture = capture_with(1)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "cc")
    assert endpoint.requests_to("cc") == [] and job.meta["waiting"] == attempt.CONCURRENCY


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ({"rate": "5 per second"}, "sink 'cc': rate: expected deliveries per period"),
        ({"rate": "0/s"}, "sink 'cc': rate:"),
        ({"concurrency": 0}, "sink 'cc': concurrency: expected a whole number"),
        ({"breaker_after": "5"}, "sink 'cc': breaker_after: expected a whole number"),
        ({"breaker_probe": "soon"}, "sink 'cc': breaker_probe: bad duration"),
    ],
)
def test_routes_check_names_the_file_the_sink_and_the_key_of_a_bad_limit(value, said):
    from receiver.routes import config

    with pytest.raises(config.RoutesError, match="routes.toml: " + said.replace("(", r"\(")):
        config.read_sink("cc", {"type": "http", "url": "http://cc.example/tasks", **value}, "routes.toml")


def test_readyz_the_metrics_and_the_status_show_a_pause_an_open_breaker_and_the_waiting(routed, endpoint):
    from receiver.metrics import sinkgauges
    from receiver.ops import readiness

    breaker = {"breaker_after": 1, "retries": "1m"}
    settings = routed(
        {
            "cc": {"type": "http", "url": endpoint.to("cc")},
            "crm": {"type": "http", "url": endpoint.to("crm"), **breaker},
        }
    )
    connection = queueing.connect(settings)
    sinkstate.pause(connection, settings.queue, "cc")
    endpoint.will_answer("crm", 503)
    send(settings, capture_with(1))
    drain(settings)
    queue = queueing.get_queue(settings, connection)
    sinks = readiness.sinks_status(settings, queue)
    assert sinks["cc"] == {"delivered": 0, "retrying": 0, "dead": 0, "waiting": 1, "paused": True, "breaker": "closed"}
    assert sinks["crm"] == {"delivered": 0, "retrying": 0, "dead": 0, "waiting": 1, "paused": False, "breaker": "open"}
    state = readiness.redis_status(queue)
    assert (state["retrying"], state["deliveries_waiting"]) == (0, 2)  # waits are not retries
    found = {
        family.name: {tuple(s.labels.values()): s.value for s in family.samples}
        for family in sinkgauges.families(settings, connection)
    }
    assert found["smartech_dumper_sink_breaker_open"] == {("cc",): 0, ("crm",): 1}
    assert found["smartech_dumper_sink_paused"] == {("cc",): 1, ("crm",): 0}
    assert found["smartech_dumper_deliveries_waiting"] == {(): 2}


def test_a_retry_after_longer_than_dumper_retry_after_max_is_cut_to_it(routed, endpoint, monkeypatch):
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc")}})
    monkeypatch.setenv("DUMPER_RETRY_AFTER_MAX", "2s")
    endpoint.will_answer("cc", (503, "maintenance", {"Retry-After": formatdate(time.time() + 7200, usegmt=True)}))
    capture = capture_with(1)
    send(settings, capture)
    drain(settings)
    job = delivery_job(settings, capture, "cc")
    assert job.meta["waiting"] == attempt.RETRY_AFTER and "HTTP 503 (Retry-After: 7" in job.meta["last_answer"]
    assert 0 < gates.held(job.connection, settings.queue, "cc") <= 2
