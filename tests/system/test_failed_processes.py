"""``smartech-dumper failed`` on a dead letter a real worker process made: a delivery refused by a real HTTP sink."""

import json
import os

import pytest

from receiver.core.queues import get_queue
from receiver.core.settings import load
from receiver.forwarder.enqueue import enqueue_capture
from tests.support.procs import run_burst_worker
from tests.support.routing_helpers import Endpoint, capture_with, write_routes
from tests.unit.scripts.ops.test_failed import run


@pytest.mark.slow
def test_a_refused_delivery_is_listed_shown_and_requeued_like_a_capture(monkeypatch, env, tmp_path, redis_conn):
    endpoint = Endpoint()
    try:
        endpoint.will_answer("tasks", (400, "no such campaign"))  # a 4xx: a dead letter at once, no retry
        sinks = {"cc": {"type": "http", "url": endpoint.to("tasks")}}
        routes = write_routes(tmp_path, sinks, [{"name": "hot", "to": ["cc"], "queue": "high"}])
        full = {**env, "DUMPER_ROUTES": routes, "DUMPER_RETRY_INTERVALS": "none"}
        for name, value in full.items():
            monkeypatch.setenv(name, value)
        capture = capture_with(1)
        assert enqueue_capture(get_queue(load()), capture, load())
        run_burst_worker({**os.environ, **full})
        assert len(endpoint.requests_to("tasks")) == 1

        listed = json.loads(run("list", "--json").stdout)
        [dead] = listed
        assert dead["id"].startswith("deliver-") and dead["queue"] == "smartech-high"
        assert dead["capture_id"] == capture["id"] and dead["source"] == "default"
        assert "HTTP 400: no such campaign" in dead["error"]
        [line] = run("list").stdout.splitlines()
        assert line.startswith(dead["id"] + "  ")
        shown = run("show", dead["id"])
        assert shown.exit_code == 0, shown.output
        assert "queue:        smartech-high" in shown.output and "Permanent: sink 'cc': HTTP 400" in shown.output

        requeued = run("requeue", dead["id"])
        assert requeued.output == f"requeued {dead['id']} to queue 'smartech-high'\n"
        run_burst_worker({**os.environ, **full})
        assert len(endpoint.requests_to("tasks")) == 2  # the endpoint now answers 200
        assert json.loads(run("list", "--json").stdout) == []
    finally:
        endpoint.close()
