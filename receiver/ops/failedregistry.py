"""The failed registries of the queues we own: list, find and requeue the dead letters in them.

A capture whose job raised after its last retry rests in RQ's FailedJobRegistry
of our queue; its capture is also still in the captures file on disk. Every
queue we own is covered: the captures' own and routing's (``-high``,
``-checks``, ``-low``…, ``receiver.core.keys``), whose dead letters are
deliveries a sink refused or never took. ``receiver.ops.deadletters``
describes each one. Requeueing puts the same job (same id, same capture) back
on the queue once; RQ does not renew its retries, so if it fails again it
comes straight back here.

Failure policy: an id in no failed registry raises ``NoSuchFailedJob``, one
whose data is gone ``FailedJobGone``; Redis away or a bad ``REDIS_URL``
raises ``RegistryError``, naming ``REDIS_URL``. Nothing is printed here.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.core import queues as queueing
from receiver.core.keys import queue_names
from receiver.core.logsafe import one_line, redacted_url
from receiver.core.settings import Settings
from receiver.ops.deadletters import FailedJob, describe

CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class NoSuchFailedJob(LookupError):
    """The id names no job in the failed registry of any of our queues (or it left it meanwhile)."""


class FailedJobGone(Exception):
    """A failed job's data is gone from Redis, so it cannot be requeued; its capture is still on disk."""


class RegistryError(Exception):
    """Redis could not be asked about the dead letters; the message names ``REDIS_URL``."""


def redis_problem(settings: Settings, exc: BaseException) -> str:
    """Describe a Redis error in one line that names REDIS_URL."""
    where = redacted_url(settings.redis_url)
    if isinstance(exc, CONNECTION_ERRORS):
        return f"cannot reach Redis at {where} (REDIS_URL): {one_line(exc)}"
    return f"Redis at {where} (REDIS_URL) answered with an error: {one_line(exc)}"


@contextmanager
def owned_queues(settings: Settings) -> Iterator[list[Queue]]:
    """Yield every RQ queue we own, the captures' first; a Redis error meanwhile becomes a ``RegistryError``."""
    try:
        connection = queueing.get_queue(settings).connection
    except ValueError as exc:  # a URL redis-py cannot parse, e.g. a port that is not a number
        raise RegistryError(f"REDIS_URL: {one_line(exc)}") from None
    names = sorted(queue_names(settings.queue), key=lambda name: name != settings.queue)
    try:
        yield [Queue(name, connection=connection, serializer=JSONSerializer) for name in names]
    except queueing.REDIS_ERRORS as exc:
        raise RegistryError(redis_problem(settings, exc)) from None
    finally:
        connection.close()


def everywhere(queues: list[Queue]) -> str:
    """Say where the dead letters are looked for, for messages: the captures' queue and routing's."""
    return f"queue {queues[0].name!r} or its routing queues"


def holding(queues: list[Queue], job_id: str) -> Queue:
    """Return the queue whose failed registry holds ``job_id``, or raise ``NoSuchFailedJob``."""
    for queue in queues:
        if job_id in queue.failed_job_registry:
            return queue
    raise NoSuchFailedJob(f"no failed job {job_id!r} in {everywhere(queues)}; see: smartech-dumper failed list")


def failed_jobs(queues: list[Queue]) -> list[FailedJob]:
    """Return every dead letter of ``queues``, queue by queue."""
    found = []
    for queue in queues:
        ids = queue.failed_job_registry.get_job_ids()
        jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
        found += [describe(job_id, job, queue.name) for job_id, job in zip(ids, jobs)]
    return found


def failed_job(queues: list[Queue], job_id: str) -> FailedJob:
    """Return the dead letter ``job_id``, or raise ``NoSuchFailedJob``."""
    queue = holding(queues, job_id)
    return describe(job_id, queue.fetch_job(job_id), queue.name)


def requeue_one(queues: list[Queue], job_id: str) -> Queue:
    """Put the dead letter ``job_id`` back on its queue, and return that queue."""
    queue = holding(queues, job_id)
    try:
        queue.failed_job_registry.requeue(job_id)
    except InvalidJobOperation:  # requeued by someone else meanwhile
        raise NoSuchFailedJob(f"failed job {job_id!r} was requeued or removed meanwhile") from None
    except NoSuchJobError:
        raise FailedJobGone(
            f"failed job {job_id!r} has no data left in Redis; its capture is still in the captures file"
        ) from None
    return queue


@dataclass
class Requeued:
    """How many dead letters went back to which queue, and the ids whose data was gone."""

    main_queue: str
    counts: dict[str, int] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Say how many jobs went back to which queues (one queue: the short form)."""
        if len(self.counts) <= 1:
            name, count = next(iter(self.counts.items()), (self.main_queue, 0))
            return f"requeued {count} failed job(s) to queue {name!r}"
        where = ", ".join(f"{count} to queue {name!r}" for name, count in self.counts.items())
        return f"requeued {sum(self.counts.values())} failed job(s): {where}"

    def check(self) -> None:
        """Raise ``FailedJobGone`` naming the jobs that could not be requeued, if any."""
        if self.gone:
            count, ids = len(self.gone), ", ".join(self.gone)
            raise FailedJobGone(f"{count} failed job(s) have no data left in Redis and were not requeued: {ids}")


def requeue_all(queues: list[Queue]) -> Requeued:
    """Put every dead letter of ``queues`` back on its queue; one requeued by someone else meanwhile is skipped."""
    done = Requeued(queues[0].name)
    for queue in queues:
        registry = queue.failed_job_registry
        for each in registry.get_job_ids():
            try:
                registry.requeue(each)
                done.counts[queue.name] = done.counts.get(queue.name, 0) + 1
            except InvalidJobOperation:
                continue
            except NoSuchJobError:
                done.gone.append(each)
    return done
