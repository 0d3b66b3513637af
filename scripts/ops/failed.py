"""``smartech-dumper failed``: list, inspect and requeue the jobs RQ gave up on (the dead letters).

A capture whose job raised after its last retry rests in RQ's FailedJobRegistry
of our queue; its capture is also still in the captures file on disk. Every
queue we own is covered: the captures' own and routing's (``-high``,
``-checks``, ``-low``…, ``receiver.core.keys``), whose dead letters are
deliveries a sink refused or never took.
Requeueing puts the same job (same id, same capture) back on the queue once;
RQ does not renew its retries, so if it fails again it comes straight back here.

Failure policy: whatever the operator meets (an unknown id, Redis away, a bad
setting) ends the command with one clear line and a non-zero exit, never a
traceback. A job whose data cannot be read is still listed, with what is known.
"""

from contextlib import contextmanager
from dataclasses import asdict

import click
import redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from receiver.core import queues as queueing
from receiver.core.keys import queue_names
from receiver.core.logsafe import one_line, redacted_url
from receiver.ops.deadletters import describe
from receiver.store.safetext import escape, json_text
from scripts.errors import load_settings
from scripts.view.output import echo_block, echo_line

CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class NoSuchFailedJob(click.ClickException):
    """The id names no job in the failed registry of any of our queues."""


def redis_problem(settings, exc):
    """Describe a Redis error in one line that names REDIS_URL."""
    where = redacted_url(settings.redis_url)
    if isinstance(exc, CONNECTION_ERRORS):
        return f"cannot reach Redis at {where} (REDIS_URL): {one_line(exc)}"
    return f"Redis at {where} (REDIS_URL) answered with an error: {one_line(exc)}"


@contextmanager
def our_queues():
    """Yield every RQ queue we own, the captures' first; settings and Redis errors become one-line failures."""
    settings = load_settings()
    try:
        connection = queueing.get_queue(settings).connection
    except ValueError as exc:  # a URL redis-py cannot parse, e.g. a port that is not a number
        raise click.ClickException(escape(f"REDIS_URL: {one_line(exc)}")) from None
    names = sorted(queue_names(settings.queue), key=lambda name: name != settings.queue)
    try:
        yield [Queue(name, connection=connection, serializer=JSONSerializer) for name in names]
    except queueing.REDIS_ERRORS as exc:
        raise click.ClickException(escape(redis_problem(settings, exc))) from None
    finally:
        connection.close()


def everywhere(queues):
    """Say where ``failed`` looks, for its messages: the captures' queue and routing's."""
    return f"queue {queues[0].name!r} or its routing queues"


def holding(queues, job_id):
    """Return the queue whose failed registry holds ``job_id``, or raise ``NoSuchFailedJob``."""
    for queue in queues:
        if job_id in queue.failed_job_registry:
            return queue
    raise NoSuchFailedJob(f"no failed job {job_id!r} in {everywhere(queues)}; see: smartech-dumper failed list")


@click.group()
def failed():
    """List, inspect and requeue the jobs that failed after all their retries."""


@failed.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of one line per job.")
def list_failed(as_json):
    """Print one line per failed job: id, failed at, source, last line of its error."""
    found = []
    with our_queues() as queues:
        for queue in queues:
            ids = queue.failed_job_registry.get_job_ids()
            jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
            found += [describe(job_id, job, queue.name) for job_id, job in zip(ids, jobs)]
    if as_json:
        fields = ("id", "queue", "ended_at", "source", "capture_id", "received_at", "error")
        click.echo(json_text([{name: asdict(item)[name] for name in fields} for item in found], indent=2))
        return
    if not found:
        echo_line(f"no failed jobs in {everywhere(queues)}", err=True)
    for item in found:
        # Each field escaped on its own: a newline or tab in one cannot forge another job's line.
        click.echo("  ".join(escape(value) for value in (item.id, item.ended_at, item.source, item.error)))


@failed.command()
@click.argument("job_id", metavar="ID")
def show(job_id):
    """Print the details and full traceback of failed job ID."""
    with our_queues() as queues:
        queue = holding(queues, job_id)
        item = describe(job_id, queue.fetch_job(job_id), queue.name)
    retries = "none (no retry policy)" if item.retries_left is None else item.retries_left
    for label, value in (
        ("job id", item.id),
        ("capture id", item.capture_id),
        ("source", item.source),
        ("received_at", item.received_at),
        ("enqueued_at", item.enqueued_at),
        ("ended_at", item.ended_at),
        ("retries left", retries),
        ("queue", item.queue),
    ):
        echo_line(f"{label + ':':<14}{value}")
    click.echo("traceback:")
    echo_block(item.traceback or item.error)


@failed.command()
@click.argument("job_id", metavar="[ID]", required=False)
@click.option("--all", "every", is_flag=True, help="Requeue every failed job.")
def requeue(job_id, every):
    """Put failed job ID (or, with --all, every failed job) back on the queue."""
    if bool(job_id) == every:
        raise click.UsageError("give exactly one of ID or --all")
    with our_queues() as queues:
        if not every:
            queue = holding(queues, job_id)
            try:
                queue.failed_job_registry.requeue(job_id)
            except InvalidJobOperation:  # requeued by someone else meanwhile
                raise NoSuchFailedJob(f"failed job {job_id!r} was requeued or removed meanwhile") from None
            except NoSuchJobError:
                raise click.ClickException(
                    f"failed job {job_id!r} has no data left in Redis; its capture is still in the captures file"
                ) from None
            echo_line(f"requeued {job_id} to queue {queue.name!r}")
            return
        counts, gone = {}, []
        for queue in queues:
            registry = queue.failed_job_registry
            for each in registry.get_job_ids():
                try:
                    registry.requeue(each)
                    counts[queue.name] = counts.get(queue.name, 0) + 1
                except InvalidJobOperation:
                    continue
                except NoSuchJobError:
                    gone.append(each)
    echo_line(requeued_text(counts, queues[0].name))
    if gone:
        raise click.ClickException(
            escape(f"{len(gone)} failed job(s) have no data left in Redis and were not requeued: {', '.join(gone)}")
        )


def requeued_text(counts, main_queue):
    """Say how many jobs went back to which queues (one queue: the short form)."""
    if len(counts) <= 1:
        name, count = next(iter(counts.items()), (main_queue, 0))
        return f"requeued {count} failed job(s) to queue {name!r}"
    where = ", ".join(f"{count} to queue {name!r}" for name, count in counts.items())
    return f"requeued {sum(counts.values())} failed job(s): {where}"
