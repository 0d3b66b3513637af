"""`smartech-dumper audit` against real processes: serve, the forwarder, RQ workers and a private Redis."""

import json
import os
import subprocess
import time

import pytest
import requests
from rq.job import Job

from receiver.core import queues as queueing
from receiver.core.settings import load
from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER, backlog, read_kind, wait_until
from tests.support.procs import BIN, run_burst_worker, start_serve, stop, wait_http

pytestmark = pytest.mark.slow
OPEN = {"smartech": [{"webhook_name": "EMAIL_OPEN", "event_params": {"foreignkey": "9999999997"}}]}


@pytest.fixture
def stack(env, data_dir):
    """Start `serve` with its forwarder; yield ``(url, environment)``."""
    proc_env = {**os.environ, **env, "DUMPER_FORWARDER": "true"}
    port = free_port()
    proc = start_serve(proc_env, port, workers=1)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    yield f"http://127.0.0.1:{port}", proc_env
    stop(proc)


def post(url, count, body=OPEN):
    """Post ``body`` ``count`` times; return the capture ids the 200s named."""
    ids = []
    for _ in range(count):
        answer = requests.post(url + "/webhook/", data={"data": json.dumps(body)}, auth=(USER, PASSWORD), timeout=10)
        assert answer.status_code == 200
        ids.append(answer.json()["id"])
    return ids


def audit(proc_env, *args):
    """Run `smartech-dumper audit --json`; return ``(exit code, document)``."""
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "audit", "--json", *args],
        env=proc_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def test_normal_traffic_balances_and_an_empty_payload_counts_as_processed(stack, data_dir):
    url, proc_env = stack
    post(url, 5)
    [empty] = post(url, 1, body={"smartech": []})  # holds no event: processing writes nothing, as it should
    wait_until(lambda: backlog(data_dir) == 0)
    run_burst_worker(proc_env)
    connection = queueing.connect(load(environ=proc_env))
    settings = load(environ=proc_env)
    [job_id] = queueing.jobs_of(connection, settings.queue, [empty])
    connection.delete(Job.key_for(job_id))  # as RQ does an hour after the job finished
    code, books = audit(proc_env)
    assert code == 0
    assert books["totals"] == {
        "captures": 6,
        "processed": 6,
        "dead": 0,
        "on_disk": 0,
        "queued": 0,
        "running": 0,
        "retrying": 0,
        "scheduled": 0,
        "missing": 0,
    }
    assert (books["missing"], books["stuck"]) == ([], [])


def test_a_job_lost_from_redis_is_missing_by_id_and_requeue_processes_it_once(stack, data_dir):
    url, proc_env = stack
    [lost] = post(url, 1)
    wait_until(lambda: backlog(data_dir) == 0)  # handed over alone: a job of its own
    [kept] = post(url, 1)
    wait_until(lambda: backlog(data_dir) == 0)
    settings = load(environ=proc_env)
    connection = queueing.connect(settings)
    queue = queueing.get_queue(settings, connection)
    [job_id] = queueing.jobs_of(connection, settings.queue, [lost])
    assert job_id != queueing.jobs_of(connection, settings.queue, [kept])[0]
    connection.lrem(queue.key, 0, job_id)  # as a Redis that lost its last second of AOF would
    connection.delete(Job.key_for(job_id))  # its capture's key still names it
    code, books = audit(proc_env)
    assert code == 1 and books["missing"] == [lost]
    assert books["totals"]["queued"] == 1 and books["totals"]["missing"] == 1
    code, books = audit(proc_env, "--requeue")
    assert books["requeued"] == [lost]
    code, books = audit(proc_env, "--requeue")
    assert books["requeued"] == [] and books["missing"] == []  # queued now: requeued once, not twice
    run_burst_worker(proc_env)
    assert sorted(e["capture_id"] for e in read_kind(data_dir, "events")) == sorted([lost, kept])
    assert audit(proc_env)[0] == 0


def test_without_a_worker_captures_are_queued_then_stuck(stack, data_dir):
    url, proc_env = stack
    ids = post(url, 3)
    wait_until(lambda: backlog(data_dir) == 0)
    code, books = audit(proc_env)
    assert code == 0 and books["totals"]["queued"] == 3 and books["stuck"] == []
    time.sleep(1.5)  # the threshold below must pass: the condition is time itself
    code, books = audit(proc_env, "--stuck-after", "1s")
    assert code == 1 and sorted(books["stuck"]) == sorted(ids)
