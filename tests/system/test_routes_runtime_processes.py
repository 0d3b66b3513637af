"""The routes file at runtime in real ``serve`` and ``worker`` processes: a file that vanishes or turns
unreadable leaves the last good routes in force, and no regex of it can hang a worker."""

import contextlib
import os
import time

import pytest
import requests

from receiver.core.settings import load
from receiver.ops.alert_text import body, conditions, subject
from receiver.ops.monitor import Monitor
from tests.support.helpers import ROOT, wait_until
from tests.support.procs import Web, output_of, post_event, start_worker, stop
from tests.support.routing_helpers import write_routes
from tests.system.test_routing_e2e import lead, post
from tests.unit.receiver.routes import test_routes_runtime as in_process
from tests.unit.receiver.routes.test_routes_runtime import NOT_UTF8, routes_to

# The in-process module's fixtures, bound here too: pytest finds a fixture by the module attribute holding it.
endpoint = in_process.endpoint

UNUSABLE = "routes file unusable"


def readyz_routes(web):
    """Return the ``routes`` part of ``/readyz``."""
    return requests.get(web.url + "/readyz", timeout=10).json()["routes"]


@contextlib.contextmanager
def running(env, path, worker_class="simple"):
    """Run ``serve`` (with its forwarder) and one worker on the routes file ``path``; yield (web, worker, env)."""
    full = {**os.environ, **env, "DUMPER_FORWARDER": "true", "DUMPER_ROUTES": path, "PYTHONPATH": ROOT}
    full["DUMPER_RETRY_INTERVALS"] = "1s"
    web, worker = Web(full), start_worker(full, worker_class=worker_class)
    try:
        yield web, worker, full
    finally:
        os.killpg(worker.pid, 15)
        stop(worker)
        web.stop()


@pytest.mark.slow
@pytest.mark.parametrize("worker_class", ["simple", "fork"])  # fork: each job in a child, the log still says it once
def test_a_routes_file_that_vanishes_or_turns_unreadable_leaves_the_last_good_routes_in_force(
    env, tmp_path, endpoint, redis_conn, worker_class
):
    path = routes_to(tmp_path, endpoint)
    with running(env, path, worker_class) as (web, worker, full):
        post_event(web.url, "good-1")
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 1, timeout=60)

        os.rename(path, path + ".away")
        for guid in ("gone-1", "gone-2"):
            post_event(web.url, guid)
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 3, timeout=60)
        problems = wait_until(lambda: readyz_routes(web)["problems"])
        assert [problem["kind"] for problem in problems] == ["missing"]

        with open(path, "wb") as handle:
            handle.write(NOT_UTF8)
        for guid in ("bytes-1", "bytes-2"):
            post_event(web.url, guid)
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 5, timeout=60)
        wait_until(lambda: [p["kind"] for p in readyz_routes(web)["problems"]] == ["unreadable"])
        state = requests.get(web.url + "/readyz", timeout=10).json()
        assert state["redis"]["failed_count"] == 0 and state["redis"]["retrying"] == 0
        assert "not UTF-8" not in requests.get(web.url + "/readyz", timeout=10).text  # kinds and ages, no error text

        settings = load(full)
        snapshot = Monitor(settings).observe()
        found = conditions(snapshot, settings)
        assert "routes file unusable" in subject(found)
        assert f"{path}: cannot read: not UTF-8 text (byte 0)" in body(found, snapshot, settings, 0)

        logged = output_of(worker)
        assert logged.count(UNUSABLE) == 2, logged  # once per problem, not once per job
        assert f"{path}: cannot read: the file is gone" in logged
        assert f"{path}: cannot read: not UTF-8 text" in logged
        assert "Traceback" not in logged

        routes_to(tmp_path, endpoint)  # good again, with a new modification time
        post_event(web.url, "back-1")
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 6, timeout=60)
        wait_until(lambda: readyz_routes(web)["ok"])
        assert "is good again" in output_of(worker)


@pytest.mark.slow
def test_a_backtracking_regex_cannot_hang_the_worker(env, tmp_path, endpoint):
    sinks = {"cc": {"type": "http", "url": endpoint.to("tasks")}}
    when = {"foreignkey": {"matches": "^(a+)+$"}}  # exponential in Python's re on "aaa…a!"
    path = write_routes(tmp_path, sinks, [{"name": "evil", "to": ["cc"], "when": when}])
    with running(env, path) as (web, worker, _):
        started = time.monotonic()
        post(web, [lead("s1", "hostile", foreignkey="a" * 41 + "!"), lead("s1", "fine", foreignkey="a" * 41)])
        wait_until(lambda: endpoint.requests_to("tasks"), timeout=10)
        elapsed = time.monotonic() - started
        [task] = endpoint.requests_to("tasks")
        assert task.json()["foreignkey"] == "a" * 41
        state = requests.get(web.url + "/readyz", timeout=10).json()
        assert state["redis"]["failed_count"] == 0 and state["redis"]["retrying"] == 0, state
        assert elapsed < 10, elapsed
