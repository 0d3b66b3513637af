"""``smartech-dumper failed``: list, inspect and requeue the jobs RQ gave up on (the dead letters).

The work is ``receiver.ops.failedregistry``'s (which queues we own, finding
and requeueing) and ``receiver.ops.deadletters``' (what one dead letter
holds); this module prints it.

Failure policy: whatever the operator meets (an unknown id, Redis away, a bad
setting) ends the command with one clear line and a non-zero exit, never a
traceback. A job whose data cannot be read is still listed, with what is known.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rq import Queue

from receiver.ops.failedregistry import (
    FailedJobGone,
    NoSuchFailedJob,
    RegistryError,
    everywhere,
    failed_job,
    failed_jobs,
    owned_queues,
    requeue_all,
    requeue_one,
)
from receiver.store.safetext import escape, json_text
from scripts.errors import library_errors, load_settings
from scripts.view.output import echo_block, echo_line

FAILED_ERRORS = (NoSuchFailedJob, FailedJobGone, RegistryError)


@contextmanager
def our_queues() -> Iterator[list[Queue]]:
    """Yield every RQ queue we own, the captures' first; the library's errors become one-line failures."""
    settings = load_settings()
    with library_errors(*FAILED_ERRORS), owned_queues(settings) as queues:
        yield queues


@click.group()
def failed() -> None:
    """List, inspect and requeue the jobs that failed after all their retries."""


@failed.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of one line per job.")
def list_failed(as_json: bool) -> None:
    """Print one line per failed job: id, failed at, source, last line of its error."""
    with our_queues() as queues:
        found = failed_jobs(queues)
    if as_json:
        click.echo(json_text([item.summary() for item in found], indent=2))
        return
    if not found:
        echo_line(f"no failed jobs in {everywhere(queues)}", err=True)
    for item in found:
        # Each field escaped on its own: a newline or tab in one cannot forge another job's line.
        click.echo("  ".join(escape(value) for value in (item.id, item.ended_at, item.source, item.error)))


@failed.command()
@click.argument("job_id", metavar="ID")
def show(job_id: str) -> None:
    """Print the details and full traceback of failed job ID."""
    with our_queues() as queues:
        item = failed_job(queues, job_id)
    for label, value in item.details():
        echo_line(f"{label + ':':<14}{value}")
    click.echo("traceback:")
    echo_block(item.traceback or item.error)


@failed.command()
@click.argument("job_id", metavar="[ID]", required=False)
@click.option("--all", "every", is_flag=True, help="Requeue every failed job.")
def requeue(job_id: str | None, every: bool) -> None:
    """Put failed job ID (or, with --all, every failed job) back on the queue."""
    if bool(job_id) == every:
        raise click.UsageError("give exactly one of ID or --all")
    with our_queues() as queues:
        if job_id:
            queue = requeue_one(queues, job_id)
            echo_line(f"requeued {job_id} to queue {queue.name!r}")
            return
        done = requeue_all(queues)
    echo_line(done.text())
    with library_errors(FailedJobGone):
        done.check()
