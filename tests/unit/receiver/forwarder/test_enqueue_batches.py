"""Many captures to a job: bounded by a count and by bytes, each capture queued once, its job answerable."""

from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.core import keys
from receiver.core import queues as queueing
from receiver.core.settings import load
from receiver.forwarder import enqueue
from tests.support.batches import job_captures, queued_captures
from tests.support.job_payloads import make_capture


def records(count, body="data=%7B%7D"):
    return [make_capture(body, "application/x-www-form-urlencoded", id=f"01E0{n:022d}") for n in range(count)]


def test_captures_go_many_to_a_job_and_each_is_queued_once(env, redis_conn):
    settings = load(overrides=env)
    queue = queueing.get_queue(settings)
    made = records(3)
    assert enqueue.enqueue_absent(queue, made, settings) == 3
    assert queue.count == 1 and queued_captures(redis_conn) == [r["id"] for r in made]
    assert enqueue.enqueue_absent(queue, made + records(4)[3:], settings) == 1  # only the new one
    assert queue.count == 2
    job_ids = queueing.jobs_of(redis_conn, settings.queue, [r["id"] for r in made])
    assert len(set(job_ids)) == 1 and job_ids[0].startswith(enqueue.BATCH_PREFIX)
    assert redis_conn.ttl(keys.capture_job(settings.queue, made[0]["id"])) > 0  # the key does not outlive its use


def test_a_job_holds_at_most_max_captures_and_about_max_bytes(env, redis_conn):
    settings = load(overrides=env)
    queue = queueing.get_queue(settings)
    assert enqueue.enqueue_absent(queue, records(enqueue.MAX_CAPTURES + 1), settings) == enqueue.MAX_CAPTURES + 1
    sizes = [
        len(job_captures(job))
        for job in Job.fetch_many(queue.get_job_ids(), connection=redis_conn, serializer=JSONSerializer)
    ]
    assert sizes == [enqueue.MAX_CAPTURES, 1]
    queue.empty()
    big = "data=" + "x" * (enqueue.MAX_BYTES // 2)
    assert enqueue.enqueue_absent(queue, records(3, big), settings) == 3
    assert queue.count == 3  # two halves of MAX_BYTES do not share a job with a third


def test_a_capture_whose_job_is_gone_is_queued_again(env, redis_conn):
    settings = load(overrides=env)
    queue = queueing.get_queue(settings)
    [one] = records(1)
    assert enqueue.enqueue_capture(queue, one, settings)
    [job_id] = queueing.jobs_of(redis_conn, settings.queue, [one["id"]])
    redis_conn.delete(Job.key_for(job_id))  # expired, or lost by Redis: the capture's key names nothing now
    assert enqueue.enqueue_capture(queue, one, settings)
    assert queueing.jobs_of(redis_conn, settings.queue, [one["id"]])[0] != job_id
