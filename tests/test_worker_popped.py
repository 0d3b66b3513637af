"""A job a worker popped but never started (Redis failed over, or the worker stopped) goes back on its queue."""

import pytest
from rq import Queue
from rq.serializers import JSONSerializer

from receiver.settings import load
from scripts.run.worker import build_worker
from scripts.run.worker_outage import NotingQueue, put_back_popped


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
