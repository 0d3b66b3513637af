"""A job whose worker died is put back at once by a live worker: started or only popped, on any of our queues.

A worker that "died" here is a real worker built by ``build_worker`` that
took a real job (pop, execution, start, as RQ's loop does) and never beat:
its liveness key is missing, as a SIGKILLed worker's is once the TTL lapses.
"""

import pytest
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.serializers import JSONSerializer

from jobs.worker import liveness, pops, reclaim
from jobs.worker.pops import RememberingQueue
from jobs.worker.runner import build_worker
from receiver.core import keys
from receiver.core import queues as queueing
from receiver.core.settings import load
from tests.support.helpers import read_kind
from tests.support.job_payloads import capture_and_queue


@pytest.fixture
def settings(env, monkeypatch):
    """Set ``env`` as the environment, as the jobs read it; return its settings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(RememberingQueue, "worker_name", "")
    return load()


def start_as_a_worker(settings, queue_name=None):
    """Have a fresh worker pop the next job of ``queue_name`` (the captures') and start it; return (worker, job)."""
    worker = build_worker(settings)
    RememberingQueue.worker_name = worker.name
    queue = Queue(queue_name or settings.queue, connection=worker.connection, serializer=JSONSerializer)
    _, job_id = RememberingQueue.lpop([queue.key], None, connection=worker.connection)
    job = Job.fetch(job_id, connection=worker.connection, serializer=JSONSerializer)
    worker.prepare_execution(job)  # the execution, in the started registry, naming the worker
    worker.prepare_job_execution(job)  # the job's status: started
    RememberingQueue.popped = None
    return worker, job


def watched(settings):
    """Return every queue of ours, as a worker's check watches them."""
    return keys.queue_names(settings.queue)


def test_a_dead_workers_started_job_is_put_back_first_in_its_queue_without_spending_a_retry(
    settings, env, data_dir, redis_conn
):
    held = capture_and_queue(env)
    later = capture_and_queue(env)
    worker, job = start_as_a_worker(settings)
    queue = queueing.get_queue(settings)
    retries = job.retries_left
    assert job.get_status(refresh=True) == "started" and queue.get_job_ids() == [later]

    assert reclaim.reclaim(redis_conn, watched(settings)) == 1

    assert queue.get_job_ids() == [held, later]  # at the front: it was running before `later` was taken
    job.refresh()
    assert job.get_status() == "queued" and job.retries_left == retries
    assert queue.started_job_registry.count == 0
    assert not redis_conn.exists(worker.executions_key) and not job.get_executions()
    build_worker(settings).work(burst=True, logging_level="WARNING")
    assert [event["event_id"] for event in read_kind(data_dir, "events")] == ["held-1"]
    assert job.get_status(refresh=True) == "finished"


def test_a_live_workers_job_is_left_alone(settings, env, redis_conn):
    capture_and_queue(env)
    worker, job = start_as_a_worker(settings)
    redis_conn.set(keys.alive(worker.name), "1", ex=liveness.ALIVE_TTL)

    assert reclaim.reclaim(redis_conn, watched(settings)) == 0

    assert job.get_status(refresh=True) == "started" and queueing.get_queue(settings).count == 0
    assert job.id in queueing.get_queue(settings).started_job_registry


def test_two_workers_checking_at_once_put_the_job_back_once(settings, env, redis_conn):
    capture_id = capture_and_queue(env)
    start_as_a_worker(settings)
    found = reclaim.abandoned(redis_conn, watched(settings))
    assert len(found) == 1
    assert [reclaim.hand_back_execution(redis_conn, *found[0]) for _ in range(2)] == ["requeued", "gone"]
    assert queueing.get_queue(settings).get_job_ids() == [capture_id]


def test_any_job_on_any_of_our_queues_is_put_back_not_only_a_captures(settings, redis_conn):
    deliveries = Queue(keys.queue_name(settings.queue, "low"), connection=redis_conn, serializer=JSONSerializer)
    deliveries.enqueue("jobs.routing.deliver.deliver_events", job_id="any-job-1", retry=queueing.retry_policy(settings))
    _, job = start_as_a_worker(settings, deliveries.name)  # a capture-lane worker checks every queue of ours

    assert reclaim.reclaim(redis_conn, watched(settings)) == 1

    assert deliveries.get_job_ids() == ["any-job-1"] and job.get_status(refresh=True) == "queued"


def test_a_job_that_ended_leaves_its_stale_entry_dropped_and_is_not_queued_again(settings, env, redis_conn):
    capture_and_queue(env)
    _, job = start_as_a_worker(settings)
    redis_conn.hset(job.key, "status", "finished")  # it ended, and the entry was left behind

    assert reclaim.reclaim(redis_conn, watched(settings)) == 0

    queue = queueing.get_queue(settings)
    assert queue.count == 0 and queue.started_job_registry.count == 0


def test_a_pop_by_a_dead_worker_is_put_back_at_once_and_a_live_workers_recent_pop_is_not(settings, env, redis_conn):
    orphan = capture_and_queue(env)
    kept = capture_and_queue(env)
    queue = queueing.get_queue(settings)
    for worker_name, job_id in (("killed-worker", orphan), ("live-worker", kept)):
        RememberingQueue.worker_name = worker_name
        assert RememberingQueue.lpop([queue.key], None, connection=redis_conn)[1] == job_id
    RememberingQueue.popped = None
    redis_conn.set(keys.alive("live-worker"), "1", ex=liveness.ALIVE_TTL)

    assert reclaim.reclaim(redis_conn, watched(settings)) == 1

    assert queue.get_job_ids() == [orphan]
    assert [pops.parse_record(m.decode())[1:] for m in redis_conn.zrange(keys.POPPED, 0, -1)] == [(kept, "live-worker")]


def test_an_old_pop_record_without_a_worker_name_is_put_back_once_old_enough(settings, env, redis_conn):
    capture_id = capture_and_queue(env)
    queue = queueing.get_queue(settings)
    redis_conn.lpop(queue.key)
    redis_conn.zadd(keys.POPPED, {f"{queue.key}|{capture_id}": 1.0})  # as a worker before the names recorded it
    assert pops.parse_record(f"{queue.key}|{capture_id}") == (queue.name, capture_id, "")

    assert reclaim.reclaim(redis_conn, watched(settings)) == 1

    assert queue.get_job_ids() == [capture_id] and redis_conn.zcard(keys.POPPED) == 0


def test_a_started_job_leaves_no_pop_record(settings, env, redis_conn):
    capture_and_queue(env)
    start_as_a_worker(settings)
    assert redis_conn.zcard(keys.POPPED) == 0


def test_an_execution_names_its_worker_as_the_check_reads_it(settings, env, redis_conn):
    capture_and_queue(env)
    worker, job = start_as_a_worker(settings)
    (execution,) = job.get_executions()
    assert Execution.fetch(execution.id, job.id, connection=redis_conn).worker_name == worker.name


def test_a_worker_on_one_queue_records_its_pop_too_and_never_uses_rqs_intermediate_list(settings, env, redis_conn):
    capture_id = capture_and_queue(env)
    worker = build_worker(settings, lane=keys.CAPTURES)
    assert len(worker.queues) == 1  # RQ would BLMOVE into an intermediate list it cleans up after a minute
    RememberingQueue.worker_name = "one-queue-worker"
    job, _ = RememberingQueue.dequeue_any(worker.queues, 1, connection=redis_conn, serializer=JSONSerializer)
    assert job.id == capture_id
    queue = queueing.get_queue(settings)
    assert redis_conn.llen(queue.intermediate_queue_key) == 0
    assert [pops.parse_record(m.decode()) for m in redis_conn.zrange(keys.POPPED, 0, -1)] == [
        (queue.name, capture_id, "one-queue-worker")
    ]
