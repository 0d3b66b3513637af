"""A job a worker popped and never started, or started on a master that died, goes back on its queue."""

import pytest
from rq import Queue
from rq.serializers import JSONSerializer

from receiver.settings import load
from scripts.run.worker import build_worker
from scripts.run.worker_outage import NotingQueue, put_back_popped, recover


@pytest.fixture(autouse=True)
def nothing_popped():
    """Start and end each test with no popped job in mind (it is process-wide, as a worker's is)."""
    NotingQueue.popped = None
    yield
    NotingQueue.popped = None


def queued_job(redis_conn, name="smartech"):
    queue = Queue(name, connection=redis_conn, serializer=JSONSerializer)
    return queue, queue.enqueue("jobs.process.does_not_run", job_id="01POPPED")


def pop(redis_conn, queue):
    """Pop as the worker does: from several queues (RQ's BLPOP path; one queue would go through LMOVE)."""
    high = Queue("smartech-high", connection=redis_conn, serializer=JSONSerializer)
    return NotingQueue.dequeue_any([high, queue], None, connection=redis_conn, serializer=JSONSerializer)


def test_a_popped_job_that_never_started_is_put_back_at_the_head(redis_conn):
    queue, job = queued_job(redis_conn)
    later = queue.enqueue("jobs.process.does_not_run", job_id="01LATER")
    popped, _ = pop(redis_conn, queue)
    assert popped.id == job.id and queue.job_ids == [later.id]  # in no list now: an orphan if the worker dies
    put_back_popped(redis_conn)
    assert queue.job_ids == [job.id, later.id]
    assert NotingQueue.popped is None
    put_back_popped(redis_conn)  # once only
    assert queue.job_ids == [job.id, later.id]


def test_a_started_job_or_one_already_back_in_the_list_is_left_alone(redis_conn):
    queue, job = queued_job(redis_conn)
    pop(redis_conn, queue)
    redis_conn.hset(job.key, "status", "started")  # RQ's registry recovers started jobs itself
    put_back_popped(redis_conn)
    assert queue.job_ids == []
    redis_conn.hset(job.key, "status", "queued")
    NotingQueue.popped = (queue.key, job.id)
    redis_conn.rpush(queue.key, job.id)  # a replica that missed the pop still lists it
    put_back_popped(redis_conn)
    assert queue.job_ids == [job.id]


def test_the_worker_pops_through_the_noting_queue(redis_url):
    built = build_worker(load(environ={"REDIS_URL": redis_url}))
    assert built.queue_class is NotingQueue and all(isinstance(q, NotingQueue) for q in built.queues)


def test_the_next_pop_puts_back_a_job_popped_before_and_never_started(redis_conn):
    # RQ's dequeue loop retries by itself after a connection error: the job it lost comes first again.
    queue, job = queued_job(redis_conn)
    later = queue.enqueue("jobs.process.does_not_run", job_id="01LATER")
    assert pop(redis_conn, queue)[0].id == job.id
    assert pop(redis_conn, queue)[0].id == job.id
    assert queue.job_ids == [later.id]


def test_a_job_whose_started_status_died_with_the_master_is_put_back(redis_conn, redis_url):
    # What the new master held in the scale-out test: the started registry's entry, but the job `queued`.
    queue, job = queued_job(redis_conn)
    pop(redis_conn, queue)
    NotingQueue.popped = None  # prepare_execution ran on the old master
    execution_key = f"{job.id}:execution-1"
    redis_conn.zadd(queue.started_job_registry.key, {execution_key: 9999999999})
    recover(redis_conn, load(environ={"REDIS_URL": redis_url}), (job.id, execution_key, queue.name))
    assert queue.job_ids == [job.id]
    assert redis_conn.zscore(queue.started_job_registry.key, execution_key) is None


def test_recovering_a_job_that_did_start_leaves_it_to_rq(redis_conn, redis_url):
    queue, job = queued_job(redis_conn)
    pop(redis_conn, queue)
    redis_conn.hset(job.key, "status", "started")
    execution_key = f"{job.id}:execution-1"
    redis_conn.zadd(queue.started_job_registry.key, {execution_key: 9999999999})
    recover(redis_conn, load(environ={"REDIS_URL": redis_url}), (job.id, execution_key, queue.name))
    # RQ's own cleanup handles it (no retries here: a dead letter), and it is not queued behind RQ's back.
    assert queue.job_ids == []
    assert redis_conn.hget(job.key, "status") == b"failed"
