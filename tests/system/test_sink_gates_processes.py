"""A sink's rate, Retry-After, circuit breaker and pause with real parts: serve, real workers, Redis, the real
command line, and an HTTP sink that answers as told: deliveries wait their turn, nothing is lost or sent twice."""

import json
import os
import signal
import subprocess
import time

import pytest
import redis

from receiver.core.settings import load
from receiver.routes import sinkstate
from tests.support.helpers import ROOT, wait_until
from tests.support.procs import BIN, start_worker, stop
from tests.support.routing_helpers import Endpoint
from tests.system import test_routing_e2e as e2e
from tests.system.test_routing_e2e import lead, post

pytestmark = pytest.mark.slow
stack = e2e.stack  # the fixture: serve and workers with a routes file


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


def sink_file(url, **options):
    """Return a routes file sending every event to one http sink ``cc`` at ``url`` with ``options``."""
    lines = ["[sinks.cc]", 'type = "http"', f'url = "{url}"', *(f"{key} = {value}" for key, value in options.items())]
    return "\n".join([*lines, "[[routes]]", 'name = "all"', 'to = ["cc"]', 'queue = "high"', ""])


def ok_keys(endpoint, path):
    """Return the Idempotency-Key of every request to ``/path`` answered 200."""
    return [r.headers.get("Idempotency-Key") for r in endpoint.requests_to(path) if r.status == 200]


def dead_letters(env):
    """Return how many jobs rest in the failed registries of every queue."""
    from receiver.core import queues as queueing
    from receiver.ops.readiness import redis_status

    settings = load(env)
    return redis_status(queueing.get_queue(settings))["failed_count"]


def test_a_rate_of_5_a_second_spaces_30_hot_leads_over_2_workers_and_each_reaches_the_call_center_once(stack, endpoint):
    routes = open(os.path.join(ROOT, "examples", "callcenter-limits.toml")).read()
    web, env = stack(routes.replace("http://127.0.0.1:9000", endpoint.url), workers=2)
    ids = [f"hot-{index}" for index in range(30)]
    for guid in ids:
        post(web, [lead("s1", guid)])
    wait_until(lambda: len(ok_keys(endpoint, "tasks")) >= 30, timeout=120)
    time.sleep(1)  # anything sent twice would come now
    tasks = endpoint.requests_to("tasks")
    assert sorted(ok_keys(endpoint, "tasks")) == sorted(ids) and len(tasks) == 30
    assert tasks[-1].at - tasks[0].at >= 5.5
    assert dead_letters(env) == 0


def test_a_429_with_retry_after_is_honoured_without_spending_the_retries(stack, endpoint):
    web, env = stack(sink_file(endpoint.to("cc"), retries='"5s"'))
    for _ in range(3):
        endpoint.will_answer("cc", (429, "slow down", {"Retry-After": "2"}))
    post(web, [lead("s1", f"lead-{index}") for index in range(3)])
    wait_until(lambda: len(ok_keys(endpoint, "cc")) >= 3, timeout=60)
    time.sleep(1)
    answered = endpoint.requests_to("cc")
    assert [r.status for r in answered] == [429, 429, 429, 200, 200, 200]
    assert all(later.at - earlier.at >= 2.0 for earlier, later in zip(answered[:3], answered[1:4]))
    assert ok_keys(endpoint, "cc") == ["lead-0", "lead-1", "lead-2"]
    assert dead_letters(env) == 0


def test_a_sink_down_20_seconds_opens_its_breaker_sees_only_probes_and_then_gets_everything(stack, endpoint):
    web, env = stack(sink_file(endpoint.to("cc"), retries='"1s,1s,1s"', breaker_after=3, breaker_probe='"2s"'))
    endpoint.down_until["/cc"] = time.monotonic() + 20
    ids = [f"lead-{index}" for index in range(10)]
    for guid in ids:
        post(web, [lead("s1", guid)])
    connection = redis.Redis.from_url(env["REDIS_URL"])
    wait_until(lambda: sinkstate.breaker(connection, env["DUMPER_QUEUE"], "cc")["open"], timeout=30)
    wait_until(lambda: len(ok_keys(endpoint, "cc")) >= 10, timeout=120)
    time.sleep(1)
    failed = [r for r in endpoint.requests_to("cc") if r.status == 503]
    # 3 failures open it; then probes 2 s, 4 s, 8 s, 16 s apart: without it, 10 leads x 4 tries were 40 failures
    assert 3 <= len(failed) <= 3 + 5
    assert sorted(ok_keys(endpoint, "cc")) == sorted(ids)
    assert not sinkstate.breaker(connection, env["DUMPER_QUEUE"], "cc")["open"]
    assert dead_letters(env) == 0


def cli(env, *args):
    """Run ``smartech-dumper ARGS`` as a process of its own with the stack's environment."""
    return subprocess.run([os.path.join(BIN, "smartech-dumper"), *args], env=env, capture_output=True, text=True)


def test_a_paused_sink_gets_nothing_across_a_restart_its_deliveries_wait_and_resume_sends_each_once(stack, endpoint):
    web, env = stack(sink_file(endpoint.to("cc"), retries='"1s"'))
    assert cli(env, "sinks", "pause", "cc").stdout == "sink cc: paused\n"
    ids = [f"lead-{index}" for index in range(5)]
    for guid in ids:
        post(web, [lead("s1", guid)])
        time.sleep(2)  # posts keep arriving during the pause
    for worker in list(stack.workers):  # the pause survives a restart of the workers
        os.killpg(worker.pid, signal.SIGTERM)
        stop(worker)
        stack.workers.remove(worker)
    stack.workers.append(start_worker(env))
    time.sleep(5)
    assert endpoint.requests_to("cc") == []
    listed = [json.loads(line) for line in cli(env, "undelivered", "--sink", "cc", "--json").stdout.splitlines()]
    assert sorted(row["event_id"] for row in listed) == sorted(ids)
    assert {(row["state"], row["reason"]) for row in listed} == {("waiting", "paused")}
    assert "paused since" in cli(env, "sinks", "list").stdout
    resumed = cli(env, "sinks", "resume", "cc")
    assert resumed.stdout.startswith("sink cc: resumed"), resumed.stdout + resumed.stderr
    wait_until(lambda: len(ok_keys(endpoint, "cc")) >= 5, timeout=60)
    time.sleep(1)
    assert sorted(ok_keys(endpoint, "cc")) == sorted(ids) and len(endpoint.requests_to("cc")) == 5
    assert cli(env, "undelivered").stdout == "" and dead_letters(env) == 0


def test_undelivered_retry_yes_sends_the_dead_letters_again_exactly_once(stack, endpoint):
    web, env = stack(sink_file(endpoint.to("cc"), retries='"none"'))
    endpoint.will_answer("cc", 422, 422, 422)
    ids = [f"lead-{index}" for index in range(3)]
    for guid in ids:
        post(web, [lead("s1", guid)])
    wait_until(lambda: dead_letters(env) == 3, timeout=60)
    dead = [json.loads(line) for line in cli(env, "undelivered", "--state", "dead", "--json").stdout.splitlines()]
    assert sorted(row["event_id"] for row in dead) == sorted(ids)
    assert all("HTTP 422" in row["last_answer"] for row in dead)
    asked = cli(env, "undelivered", "--retry")
    assert asked.returncode == 1 and "would retry 3 deliveries (3 events); add --yes" in asked.stdout
    assert len(endpoint.requests_to("cc")) == 3  # nothing sent without --yes
    done = cli(env, "undelivered", "--retry", "--yes")
    assert done.returncode == 0 and "3 deliveries queued" in done.stdout, done.stdout + done.stderr
    wait_until(lambda: len(ok_keys(endpoint, "cc")) >= 3, timeout=60)
    time.sleep(2)
    assert sorted(ok_keys(endpoint, "cc")) == sorted(ids) and len(endpoint.requests_to("cc")) == 6
    assert dead_letters(env) == 0 and cli(env, "undelivered").stdout == ""
