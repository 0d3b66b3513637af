"""A worker's liveness key: set while it works, gone when it stops; its check waits until its own beats are steady.

Time is a clock handed to the pulse, never a sleep: durations are measured in
``bench/worker_recovery.py``.
"""

import os
import shutil
import tempfile

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.worker import liveness
from jobs.worker.liveness import Pulse
from jobs.worker.pops import RememberingQueue
from jobs.worker.runner import build_worker
from receiver.core import keys
from receiver.core import queues as queueing
from receiver.core.settings import load
from tests.support.job_payloads import capture_and_queue


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def settings(env, monkeypatch):
    """Set ``env`` as the environment, as the jobs read it; return its settings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(RememberingQueue, "worker_name", "")
    return load()


@pytest.fixture
def unreachable():
    """Yield a Redis client of a socket nobody listens on."""
    workdir = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
    yield redis.Redis(unix_socket_path=os.path.join(workdir, "none.sock"), socket_connect_timeout=0.5)
    shutil.rmtree(workdir, ignore_errors=True)


def test_a_pulse_sets_its_key_with_a_short_ttl_and_deletes_it_when_stopped(redis_conn):
    pulse = Pulse(redis_conn, "w1")
    pulse.start()
    try:
        assert redis_conn.exists(keys.alive("w1"))
        assert 0 < redis_conn.ttl(keys.alive("w1")) <= liveness.ALIVE_TTL
    finally:
        pulse.stop()
    assert not redis_conn.exists(keys.alive("w1")) and not pulse.thread.is_alive()


def test_a_pulse_is_steady_only_after_a_whole_ttl_of_beats_that_reached_redis(redis_conn, unreachable):
    clock = Clock()
    pulse = Pulse(redis_conn, "w1", clock=clock)
    pulse.beat()
    assert not pulse.steady()
    clock.now += liveness.ALIVE_TTL
    assert pulse.steady()
    pulse.connection = unreachable  # Redis away: others' keys may lapse meanwhile, so judge no one
    pulse.beat()
    assert not pulse.steady()
    pulse.connection = redis_conn
    pulse.beat()
    clock.now += liveness.ALIVE_TTL - 1
    assert not pulse.steady()
    clock.now += 1
    assert pulse.steady()


def test_a_pulse_that_finds_its_key_lapsed_sets_it_again_and_warns(redis_conn, caplog):
    pulse = Pulse(redis_conn, "w1")
    pulse.beat()
    redis_conn.delete(keys.alive("w1"))
    pulse.beat()
    assert redis_conn.exists(keys.alive("w1"))
    assert "liveness key lapsed" in caplog.text


def test_a_worker_beats_from_its_birth_and_its_pops_name_it(settings, env, redis_conn):
    worker = build_worker(settings)
    worker.register_birth()
    try:
        assert redis_conn.exists(keys.alive(worker.name)) and RememberingQueue.worker_name == worker.name
        assert worker.dequeue_timeout == liveness.CHECK_EVERY
    finally:
        worker.pulse.stop()
        worker.register_death()


def test_a_worker_that_ends_its_work_stops_beating(settings, env, redis_conn):
    capture_and_queue(env)
    worker = build_worker(settings)
    worker.work(burst=True, logging_level="WARNING")
    assert worker.pulse is None and not redis_conn.exists(keys.alive(worker.name))


def test_a_steady_workers_heartbeat_hands_back_a_dead_workers_job(settings, env, redis_conn):
    capture_id = capture_and_queue(env)
    queue = queueing.get_queue(settings)
    RememberingQueue.worker_name = "killed-worker"
    RememberingQueue.lpop([queue.key], None, connection=redis_conn)
    RememberingQueue.popped = None
    clock = Clock()
    worker = build_worker(settings)
    worker.register_birth()
    worker.pulse.clock = clock
    worker.pulse.since = clock()
    try:
        worker.heartbeat()  # just started: its own beats are not steady yet, so it judges no one
        assert queue.count == 0
        clock.now += liveness.ALIVE_TTL
        worker.heartbeat()
        assert queue.get_job_ids() == [capture_id]
    finally:
        worker.pulse.stop()
        worker.register_death()


def test_a_worker_restarted_under_a_killed_workers_name_hands_back_its_job_and_takes_the_name(
    settings, env, redis_conn
):
    capture_id = capture_and_queue(env)
    killed = build_worker(settings)
    killed.register_birth()
    queue = queueing.get_queue(settings)
    RememberingQueue.lpop([queue.key], None, connection=redis_conn)
    job = Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer)
    killed.prepare_execution(job)
    killed.prepare_job_execution(job)
    killed.pulse.stop()  # SIGKILL: no death registered, the liveness key gone
    restarted = build_worker(settings, name=killed.name)
    restarted.register_birth()  # RQ alone refuses: "There exists an active worker named …"
    try:
        assert queue.get_job_ids() == [capture_id] and job.get_status(refresh=True) == "queued"
        assert redis_conn.exists(keys.alive(killed.name))
    finally:
        restarted.pulse.stop()
        restarted.register_death()
