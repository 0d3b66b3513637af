"""A job the worker popped from its queue when Redis failed is run again: put back, or retried at once.

RQ pops with BLPOP when a worker listens on several queues, so a job popped
just before Redis fails is in no queue and no registry. These tests pop a
real job from the real queue as the worker's dequeue does, then take the
recovery path the worker takes once Redis answers again.
"""

import threading

import pytest
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.worker import pops as orphans
from jobs.worker.outage import recover
from jobs.worker.pops import RememberingQueue, hand_back
from jobs.worker.runner import build_worker
from receiver.core import keys
from receiver.core import queues as queueing
from receiver.core.settings import load
from tests.support.helpers import read_kind
from tests.support.job_payloads import capture_and_queue


def settings_of(env, monkeypatch):
    """Set ``env`` (with retries due at once) as the environment, as the jobs read it; return its settings."""
    for name, value in {**env, "DUMPER_RETRY_INTERVALS": "1s"}.items():
        monkeypatch.setenv(name, value)
    return load()


def pop(settings, connection):
    """Pop the next job of the capture queue as the worker's dequeue does; return its id."""
    key = queueing.get_queue(settings).key
    RememberingQueue.lpop([key], None, connection=connection)
    return RememberingQueue.popped[1]


def processed_once(settings, data_dir):
    """Run a fresh worker until the queues are empty; say whether the capture's one event was written once."""
    build_worker(settings).work(burst=True, logging_level="WARNING")
    return event_ids(data_dir) == ["held-1"]


def event_ids(data_dir):
    """Return the ids of the events written so far."""
    return [event["event_id"] for event in read_kind(data_dir, "events")]


def test_a_job_popped_just_before_an_outage_is_put_back_when_redis_answers(env, data_dir, redis_conn, monkeypatch):
    settings = settings_of(env, monkeypatch)
    capture_id = capture_and_queue(env)
    worker = build_worker(settings)
    assert pop(settings, worker.connection) == capture_id
    queue = queueing.get_queue(settings)
    assert queue.count == 0 and Job.fetch(capture_id, connection=redis_conn).get_status() == "queued"
    worker.heartbeat()  # the first heartbeat that reaches Redis after the outage
    assert queue.get_job_ids() == [capture_id] and RememberingQueue.popped is None
    assert processed_once(settings, data_dir)
    assert Job.fetch(capture_id, connection=redis_conn).get_status() == "finished" and queue.count == 0


def test_a_job_whose_start_reached_redis_is_retried_at_once(env, data_dir, redis_conn, monkeypatch):
    settings = settings_of(env, monkeypatch)
    capture_id = capture_and_queue(env)
    worker = build_worker(settings)
    pop(settings, worker.connection)
    job = Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer)
    worker.prepare_execution(job)  # the start was applied, then the answer was lost with the connection
    recover(worker.connection, settings, (capture_id, None, job.origin))  # the execution key never came back
    assert capture_id not in queueing.get_queue(settings).started_job_registry
    assert job.get_status(refresh=True) in ("scheduled", "queued")


def test_a_pop_the_restarted_redis_forgot_is_not_queued_twice(env, redis_conn, monkeypatch):
    settings = settings_of(env, monkeypatch)
    capture_id = capture_and_queue(env)
    queue = queueing.get_queue(settings)
    # the AOF kept the job in its queue but not the pop: the job is where it was, and stays there once
    assert hand_back(redis_conn, queue.name, capture_id) == "nothing to do"
    assert queue.get_job_ids() == [capture_id]


def test_a_start_whose_status_the_failover_lost_is_put_back(env, data_dir, redis_conn, monkeypatch):
    # What the new master held in tests/system/test_scale_out.py: the started-registry entry, the job `queued`.
    settings = settings_of(env, monkeypatch)
    capture_id = capture_and_queue(env)
    worker = build_worker(settings)
    pop(settings, worker.connection)
    job = Job.fetch(capture_id, connection=redis_conn, serializer=JSONSerializer)
    execution = worker.prepare_execution(job)
    redis_conn.hset(job.key, "status", "queued")  # the status write did not reach the replica
    queue = queueing.get_queue(settings)
    assert hand_back(redis_conn, queue.name, capture_id, execution.composite_key) == "requeued"
    assert queue.get_job_ids() == [capture_id] and capture_id not in queue.started_job_registry
    assert processed_once(settings, data_dir)


def test_a_job_whose_worker_died_between_pop_and_start_is_put_back_by_another_workers_maintenance(
    env, data_dir, redis_conn, monkeypatch
):
    settings = settings_of(env, monkeypatch)
    capture_id = capture_and_queue(env)
    pop(settings, redis_conn)
    RememberingQueue.popped = None  # the worker that popped it was SIGKILLed: nobody remembers it in memory
    queue = queueing.get_queue(settings)
    assert queue.count == 0 and redis_conn.zcard(keys.POPPED) == 1  # only Redis's record is left
    monkeypatch.setattr(orphans, "SWEEP_AFTER", 0.0)
    build_worker(settings).run_maintenance_tasks()  # any live worker's maintenance
    assert queue.get_job_ids() == [capture_id] and redis_conn.zcard(keys.POPPED) == 0
    assert processed_once(settings, data_dir)


def test_a_job_that_started_leaves_no_pop_record_and_the_sweep_keeps_its_hands_off(
    env, data_dir, redis_conn, monkeypatch
):
    settings = settings_of(env, monkeypatch)
    capture_id = capture_and_queue(env)
    build_worker(settings).work(burst=True, logging_level="WARNING")
    assert redis_conn.zcard(keys.POPPED) == 0
    assert orphans.sweep(redis_conn, older_than=0) == 0 and queueing.get_queue(settings).count == 0
    assert Job.fetch(capture_id, connection=redis_conn).get_status() == "finished"


def test_an_idle_pop_waits_for_a_job_and_times_out_as_blpop_does(env, redis_conn, monkeypatch):
    settings = settings_of(env, monkeypatch)
    key = queueing.get_queue(settings).key
    with pytest.raises(DequeueTimeout):
        RememberingQueue.lpop([key], 1, connection=redis_conn)
    threading.Timer(0.3, redis_conn.rpush, (key, "01LATE")).start()
    assert RememberingQueue.lpop([key], 5, connection=redis_conn) == (key, "01LATE")
