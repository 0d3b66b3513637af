"""The worker's two lanes: captures in the worker's process, deliveries in a second process it keeps alive.

Real processes: ``smartech-dumper worker`` against the private Redis; the delivery lane is found
among its children and killed, then the worker itself is killed.
"""

import contextlib
import os
import signal
import time

import pytest
from rq import Worker

from jobs.worker.runner import build_worker
from receiver.core.keys import CAPTURES, CHECKS, DELIVERIES, PRIORITIES, queue_name, queue_names
from receiver.core.settings import load
from tests.support.helpers import wait_until
from tests.support.procs import children, command_of, start_worker, stop
from tests.support.routing_helpers import write_routes


def lane_pids(pid):
    """Return the pids of the delivery-lane processes ``pid`` started."""
    return [child for child in children(pid) if "--lane deliveries" in command_of(child)]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return "scripts" in command_of(pid)  # not a zombie or a reused pid


def test_the_capture_lane_takes_no_delivery_queue_and_the_delivery_lane_no_capture_queue(env):
    settings = load(env)
    deliveries = {queue_name(settings.queue, priority) for priority in (*PRIORITIES, CHECKS)}
    assert build_worker(settings, lane=CAPTURES).queue_names() == [settings.queue]
    assert set(build_worker(settings, lane=DELIVERIES).queue_names()) == deliveries
    assert settings.queue not in deliveries and set(queue_names(settings.queue)) == deliveries | {settings.queue}


@pytest.mark.slow
def test_the_worker_restarts_its_delivery_lane_and_takes_it_along_when_killed(env, redis_conn, tmp_path):
    routes = write_routes(tmp_path, {"db": {"type": "sql"}}, [{"name": "all", "to": ["db"]}])
    worker = start_worker({**os.environ, **env, "DUMPER_ROUTES": routes})
    try:
        [first] = wait_until(lambda: lane_pids(worker.pid), timeout=30)
        wait_until(lambda: len(Worker.all(connection=redis_conn)) == 2, timeout=30)  # both lanes registered
        os.kill(first, signal.SIGKILL)
        [second] = wait_until(lambda: [pid for pid in lane_pids(worker.pid) if pid != first], timeout=30)
        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: not alive(second), timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        stop(worker)


def test_a_stopping_worker_waits_no_minute_for_a_pubsub_thread_that_saw_the_unsubscribe_first(env):
    worker = build_worker(load(env), lane=CAPTURES)
    worker.subscribe()
    worker.pubsub.unsubscribe()  # the race RQ loses at random: its thread reads the reply before it is stopped
    wait_until(lambda: not worker.pubsub.subscribed, timeout=10)
    started = time.monotonic()
    worker.unsubscribe()
    took = time.monotonic() - started
    assert took < 5, f"unsubscribing took {took:.0f}s"


@pytest.mark.slow
def test_without_routes_the_worker_is_one_process_on_the_capture_queue(env, redis_conn):
    worker = start_worker({**os.environ, **env})
    try:
        [registered] = wait_until(lambda: Worker.all(connection=redis_conn), timeout=30)
        assert registered.queue_names() == ["smartech"] and lane_pids(worker.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        stop(worker)
