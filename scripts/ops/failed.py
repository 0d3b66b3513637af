"""``smartech-dumper failed``: list, inspect and requeue the jobs RQ gave up on (the dead letters).

A capture whose job raised after its last retry rests in RQ's FailedJobRegistry
of our queue; its capture is also still in the captures file on disk.
Requeueing puts the same job (same id, same capture) back on the queue once;
RQ does not renew its retries, so if it fails again it comes straight back here.

Failure policy: whatever the operator meets (an unknown id, Redis away, a bad
setting) ends the command with one clear line and a non-zero exit, never a
traceback. A job whose data cannot be read is still listed, with what is known.
"""

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC

import click
import redis
from rq.exceptions import DeserializationError, InvalidJobOperation, NoSuchJobError
from rq.job import Job

from receiver import queueing
from receiver.logsafe import one_line
from receiver.store.safetext import escape, json_text

from ..errors import load_settings
from ..view.output import echo_block, echo_line
from .check import redact_url

UNKNOWN = "-"
NO_ERROR = "no error recorded"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class NoSuchFailedJob(click.ClickException):
    """The id names no job in the failed registry of our queue."""


@dataclass(frozen=True)
class FailedJob:
    """Hold what we show of one dead letter."""

    id: str
    ended_at: str
    source: str
    capture_id: str
    received_at: str
    enqueued_at: str
    retries_left: object
    error: str
    traceback: str


def utc_text(when):
    """Return a datetime as ``YYYY-MM-DDTHH:MM:SSZ``, or ``-`` when there is none."""
    if when is None:
        return UNKNOWN
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def capture_of(job):
    """Return the capture dict the job was given, or an empty dict if it cannot be read."""
    try:
        args = job.args
    except DeserializationError:
        return {}
    return args[0] if args and isinstance(args[0], dict) else {}


def traceback_of(job):
    """Return the full traceback of the job's latest failure, or an empty string."""
    result = job.latest_result()
    return (getattr(result, "exc_string", None) or "").strip()


def last_line(text):
    """Return the last non-blank line of ``text``: the exception type and message."""
    # Only "\n" ends a traceback line: splitlines() would also cut at a CR, NEL or U+2028 quoted from a payload.
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return lines[-1] if lines else NO_ERROR


def describe(job_id, job):
    """Return the ``FailedJob`` of ``job_id``; ``job`` is None when its data is gone from Redis."""
    if job is None:
        gone = "job data is gone from Redis (expired?); the capture is still on disk"
        return FailedJob(job_id, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, None, gone, "")
    capture = capture_of(job)
    trace = traceback_of(job)
    return FailedJob(
        id=job_id,
        ended_at=utc_text(job.ended_at),
        source=str(capture.get("source") or UNKNOWN),
        capture_id=str(capture.get("id") or UNKNOWN),
        received_at=str(capture.get("received_at") or UNKNOWN),
        enqueued_at=utc_text(job.enqueued_at),
        retries_left=job.retries_left,
        error=last_line(trace),
        traceback=trace,
    )


def redis_problem(settings, exc):
    """Describe a Redis error in one line that names REDIS_URL."""
    where = redact_url(settings.redis_url)
    if isinstance(exc, CONNECTION_ERRORS):
        return f"cannot reach Redis at {where} (REDIS_URL): {one_line(exc)}"
    return f"Redis at {where} (REDIS_URL) answered with an error: {one_line(exc)}"


@contextmanager
def our_queue():
    """Yield the RQ queue of the settings, turning settings and Redis errors into one-line failures."""
    settings = load_settings()
    try:
        queue = queueing.get_queue(settings)
    except ValueError as exc:  # a URL redis-py cannot parse, e.g. a port that is not a number
        raise click.ClickException(escape(f"REDIS_URL: {one_line(exc)}")) from None
    try:
        yield queue
    except queueing.REDIS_ERRORS as exc:
        raise click.ClickException(escape(redis_problem(settings, exc))) from None
    finally:
        queue.connection.close()


def require_failed(queue, job_id):
    """Raise ``NoSuchFailedJob`` unless ``job_id`` is in the queue's failed registry."""
    if job_id not in queue.failed_job_registry:
        raise NoSuchFailedJob(f"no failed job {job_id!r} in queue {queue.name!r}; see: smartech-dumper failed list")


@click.group()
def failed():
    """List, inspect and requeue the jobs that failed after all their retries."""


@failed.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of one line per job.")
def list_failed(as_json):
    """Print one line per failed job: id, failed at, source, last line of its error."""
    with our_queue() as queue:
        ids = queue.failed_job_registry.get_job_ids()
        jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
        found = [describe(job_id, job) for job_id, job in zip(ids, jobs)]
    if as_json:
        fields = ("id", "ended_at", "source", "capture_id", "received_at", "error")
        click.echo(json_text([{name: asdict(item)[name] for name in fields} for item in found], indent=2))
        return
    if not found:
        echo_line(f"no failed jobs in queue {queue.name!r}", err=True)
    for item in found:
        # Each field escaped on its own: a newline or tab in one cannot forge another job's line.
        click.echo("  ".join(escape(value) for value in (item.id, item.ended_at, item.source, item.error)))


@failed.command()
@click.argument("job_id", metavar="ID")
def show(job_id):
    """Print the details and full traceback of failed job ID."""
    with our_queue() as queue:
        require_failed(queue, job_id)
        item = describe(job_id, queue.fetch_job(job_id))
    retries = "none (no retry policy)" if item.retries_left is None else item.retries_left
    for label, value in (
        ("job id", item.id),
        ("capture id", item.capture_id),
        ("source", item.source),
        ("received_at", item.received_at),
        ("enqueued_at", item.enqueued_at),
        ("ended_at", item.ended_at),
        ("retries left", retries),
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
    with our_queue() as queue:
        registry = queue.failed_job_registry
        if not every:
            require_failed(queue, job_id)
            try:
                registry.requeue(job_id)
            except InvalidJobOperation:  # requeued by someone else meanwhile
                raise NoSuchFailedJob(f"failed job {job_id!r} was requeued or removed meanwhile") from None
            except NoSuchJobError:
                raise click.ClickException(
                    f"failed job {job_id!r} has no data left in Redis; its capture is still in the captures file"
                ) from None
            echo_line(f"requeued {job_id} to queue {queue.name!r}")
            return
        requeued, gone = 0, []
        for each in registry.get_job_ids():
            try:
                registry.requeue(each)
                requeued += 1
            except InvalidJobOperation:
                continue
            except NoSuchJobError:
                gone.append(each)
    echo_line(f"requeued {requeued} failed job(s) to queue {queue.name!r}")
    if gone:
        raise click.ClickException(
            escape(f"{len(gone)} failed job(s) have no data left in Redis and were not requeued: {', '.join(gone)}")
        )
