"""RQ workers killed or stopped mid-job: the job is handed back by a live worker and completed, or finished first.

A job is held mid-write by holding the lock of its events file: the worker
blocks in flock() until the test decides what happens next. How soon a
killed worker's job runs again is measured by ``bench/worker_recovery.py``;
here the second worker's log says it was our liveness check (not RQ's
heartbeat, a minute later) that put the job back, without spending a retry.
"""

import fcntl
import os
import signal
import time
from contextlib import contextmanager

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.worker.pops import RememberingQueue
from receiver.core import jsonl, layout
from receiver.core import queues as queueing
from receiver.core.settings import load
from tests.support.helpers import read_kind, wait_until
from tests.support.job_payloads import capture_and_queue
from tests.support.procs import BIN, children, logged_popen, start_worker, stop

pytestmark = pytest.mark.slow
RECOVERY_LIMIT = 150  # RQ's own recovery would be done by then too: the logs tell which one acted
RETRIES = 3


@pytest.fixture
def worker_env(env):
    return {
        **os.environ,
        **env,
        "DUMPER_JOB_TIMEOUT": "5s",
        "DUMPER_MAINTENANCE_INTERVAL": "2s",
        "DUMPER_RETRY_INTERVALS": ",".join(["1s"] * RETRIES),
    }


@contextmanager
def held_events_file(data_dir):
    """Hold the lock of today's events file, so a job blocks when it writes; yield its path."""
    path = layout.day_path(data_dir, "events", layout.day_name())
    fd = jsonl.open_for_append(path)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield path
    finally:
        os.close(fd)


def descendants(pid):
    """Return the pids of every process below ``pid``."""
    found = []
    for child in children(pid):
        found += [child] + descendants(child)
    return found


def kill_quietly(pid):
    """SIGKILL ``pid`` if it still runs."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def started_jobs(redis_conn):
    return redis_conn.zcard("rq:wip:smartech")


@pytest.mark.parametrize("worker_class", ["simple", "fork"])
def test_sigkilled_worker_job_is_retried_and_completed(worker_env, data_dir, redis_conn, worker_class):
    capture_id = capture_and_queue(worker_env)
    with held_events_file(data_dir):
        first = start_worker(worker_env, worker_class=worker_class)
        try:
            wait_until(lambda: started_jobs(redis_conn) == 1, timeout=30)
        except AssertionError:
            os.killpg(first.pid, signal.SIGKILL)
            raise AssertionError(stop(first)) from None
        time.sleep(0.5)
        family = descendants(first.pid)  # the horse runs in a session of its own: name it before the parent dies
        os.killpg(first.pid, signal.SIGKILL)  # parent and scheduler
        for pid in family:
            kill_quietly(pid)  # and the horse, blocked in the events file's lock
        stop(first)
    killed_at = time.monotonic()
    second = start_worker(worker_env, worker_class=worker_class)
    try:
        wait_until(lambda: read_kind(data_dir, "events"), timeout=RECOVERY_LIMIT)
        print(f"\n{worker_class} worker: job recovered {time.monotonic() - killed_at:.0f}s after SIGKILL")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        log = stop(second)
    assert [e["event_id"] for e in read_kind(data_dir, "events")] == ["held-1"]
    job = Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == "finished"
    assert f"job {capture_id} was started by worker" in log and "which died: put back at the front" in log, log
    assert job.retries_left == RETRIES, "a kill is not the job's fault: no retry is spent"


@pytest.mark.parametrize("worker_class", ["simple", "fork"])
def test_a_job_popped_by_a_worker_killed_before_its_start_is_put_back_and_completed(
    worker_env, data_dir, redis_conn, worker_class, monkeypatch
):
    capture_id = capture_and_queue(worker_env)
    queue = queueing.get_queue(load(overrides=worker_env), redis_conn)
    # What Redis holds once a worker is killed between its pop and the job's start: the pop record, no job.
    monkeypatch.setattr(RememberingQueue, "worker_name", "killed-worker")
    assert RememberingQueue.lpop([queue.key], None, connection=redis_conn) == (queue.key, capture_id)
    RememberingQueue.popped = None
    worker = start_worker(worker_env, worker_class=worker_class)
    try:
        wait_until(lambda: read_kind(data_dir, "events"), timeout=RECOVERY_LIMIT)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        log = stop(worker)
    assert [e["event_id"] for e in read_kind(data_dir, "events")] == ["held-1"]
    assert f"job {capture_id} was popped by worker killed-worker, which died before starting it" in log, log
    assert Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer).get_status() == "finished"


def test_a_worker_restarted_under_its_name_after_a_sigkill_runs_its_job_again(worker_env, data_dir, redis_conn):
    capture_id = capture_and_queue(worker_env)
    cmd = [os.path.join(BIN, "smartech-dumper"), "worker", "--name", "host-1"]
    with held_events_file(data_dir):
        first = logged_popen(cmd, worker_env, start_new_session=True)
        wait_until(lambda: started_jobs(redis_conn) == 1, timeout=30)
        os.killpg(first.pid, signal.SIGKILL)  # as systemd's restart after an OOM kill: the same name, at once
        stop(first)
    second = logged_popen(cmd, worker_env, start_new_session=True)
    try:
        wait_until(lambda: read_kind(data_dir, "events"), timeout=RECOVERY_LIMIT)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        log = stop(second)
    assert "worker host-1 had died (no liveness key): its jobs are handed back, its name taken" in log, log
    assert [e["event_id"] for e in read_kind(data_dir, "events")] == ["held-1"]
    assert Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer).get_status() == "finished"


def test_sigterm_lets_the_worker_finish_its_current_job(worker_env, data_dir, redis_conn):
    capture_id = capture_and_queue(worker_env)
    with held_events_file(data_dir):
        worker = start_worker(worker_env)
        wait_until(lambda: started_jobs(redis_conn) == 1, timeout=30)
        worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the job, then exit
        time.sleep(1.0)
        assert worker.poll() is None, "the worker quit in the middle of a job"
    # The lock is free: the job writes.
    worker.wait(timeout=30)
    assert worker.returncode == 0
    assert [e["event_id"] for e in read_kind(data_dir, "events")] == ["held-1"]
    assert Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer).get_status() == "finished"
