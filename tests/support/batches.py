"""Read what the forwarder queued, capture by capture: a job carries many captures (receiver/forwarder/enqueue.py)."""

from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.capture.linehead import item_id
from receiver.core.queues import forget_capture, jobs_of


def job_captures(job):
    """Return the capture ids a job of captures carries, in order."""
    items = job.args[0] if job.args else []
    return [item_id(item) for item in (items if isinstance(items, list) else [items])]


def queued_captures(connection, queue="smartech"):
    """Return the capture ids of the jobs waiting in ``queue``, in queue order."""
    ids = [each.decode() for each in connection.lrange(f"rq:queue:{queue}", 0, -1)]
    return [
        capture
        for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer)
        for capture in job_captures(job)
    ]


def job_of(connection, capture_id, queue="smartech"):
    """Return the RQ job that holds ``capture_id``."""
    return Job.fetch(jobs_of(connection, queue, [capture_id])[0], connection=connection, serializer=JSONSerializer)


def summary_of(job, capture_id):
    """Return what the job's run wrote of ``capture_id`` (``jobs.process.process_batch``'s summaries)."""
    return next(each for each in job.return_value()["summaries"] if each["capture_id"] == capture_id)


def forget(connection, capture_id, queue="smartech"):
    """Delete the job that holds ``capture_id`` and its key, as once RQ's result TTL has passed."""
    job_of(connection, capture_id, queue).delete()
    forget_capture(connection, queue, capture_id)


class CaptureRun:
    """A job as one capture sees it: ``return_value()`` is that capture's summary; the rest is the job's."""

    def __init__(self, job, capture_id):
        self.job, self.capture_id = job, capture_id

    def return_value(self):
        return summary_of(self.job, self.capture_id)

    def __getattr__(self, name):
        return getattr(self.job, name)


def ran(connection, capture_id, queue="smartech"):
    """Return the ``CaptureRun`` of the job that holds ``capture_id``."""
    return CaptureRun(job_of(connection, capture_id, queue), capture_id)
