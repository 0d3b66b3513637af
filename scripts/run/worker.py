"""Run the RQ workers of the receiver's queues: a capture lane and a delivery lane, each outliving Redis outages.

With no ``--lane`` this process serves the capture queue and starts the
delivery lane as a second process; ``--burst`` drains every queue in this one
process instead. The worker itself is ``jobs.worker.runner``.
"""

import click

from jobs.worker.runner import DEFAULT_WORKER_CLASS, WORKER_CLASSES, run
from receiver.core import queues as queueing
from receiver.core.keys import ALL, LANES
from receiver.core.logsafe import redacted_url
from receiver.core.logsetup import configure_logging
from scripts.errors import load_routes, load_settings


@click.command()
@click.option("--burst", is_flag=True, help="Drain the queue, then exit.")
@click.option(
    "--worker-class",
    type=click.Choice(sorted(WORKER_CLASSES)),
    default=DEFAULT_WORKER_CLASS,
    show_default=True,
    help="simple: jobs run in the worker process (fast); "
    "fork: each job runs in a forked child (isolated, much slower).",
)
@click.option("--name", help="Worker name shown in RQ (default: RQ's own); the delivery lane adds -deliveries.")
@click.option(
    "--lane",
    type=click.Choice(LANES),
    default=ALL,
    show_default=True,
    help="all: captures in this process, sink deliveries and checks in a second one it starts; "
    "captures or deliveries: only that lane (run both somewhere).",
)
def worker(burst: bool, worker_class: str, name: str | None, lane: str) -> None:
    """Process queued captures into events and rejects, and deliver routed events to their sinks."""
    settings = load_settings()
    configure_logging(settings.log_level)
    if load_routes(settings):  # a bad routes file stops the start, naming the route and the key
        from receiver.routes import live

        live.current(settings.routes_path)  # the good version the jobs keep in force if the file goes bad
    if burst:  # a one-off drain has nothing to wait for; a long-running worker waits for Redis instead
        try:
            queueing.connect(settings).ping()
        except queueing.REDIS_ERRORS as exc:
            raise click.ClickException(
                f"REDIS_URL: cannot reach Redis at {redacted_url(settings.redis_url)}: {exc}"
            ) from None
    raise SystemExit(run(settings, worker_class, name, burst, lane))
