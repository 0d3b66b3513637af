"""The worker's two lanes in real processes: ``smartech-dumper worker`` against the private Redis; the
delivery lane is found among its children and killed, then the worker itself is killed."""

import contextlib
import os
import signal

import pytest
from rq import Worker

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
