"""Run an RQ worker on the receiver's queue, with the JSON serializer and RQ's scheduler.

Recovery timing: RQ notices a job whose worker died once the job's heartbeat
lapses (job timeout + 60 s for SimpleWorker, job monitoring interval + 60 s
for the forking Worker) and a live worker next cleans its registries (every
maintenance interval, checked each time its blocking dequeue times out,
which is worker TTL - 15 s). With the defaults (20 s job timeout, 10 s
monitoring, 20 s maintenance, 20 s worker TTL) a killed job is retried within
about two minutes, not RQ's default ten or more.
"""
import click
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from receiver import queueing
from receiver.settings import SettingsError, load

WORKER_CLASSES = {"simple": SimpleWorker, "fork": Worker}
DEFAULT_WORKER_CLASS = "simple"
JOB_MONITORING_INTERVAL = 10
WORKER_TTL = 20  # also sets the idle dequeue wait (TTL - 15 s), so maintenance runs on time


def build_worker(settings, worker_class=DEFAULT_WORKER_CLASS, name=None):
    """Return an RQ worker of ``worker_class`` listening on the configured queue."""
    connection = queueing.connect(settings, blocking=True)
    queue = queueing.get_queue(settings, connection)
    return WORKER_CLASSES[worker_class](
        [queue], connection=connection, serializer=JSONSerializer, name=name,
        worker_ttl=WORKER_TTL, job_monitoring_interval=JOB_MONITORING_INTERVAL,
        maintenance_interval=max(1, round(settings.maintenance_interval)),
    )


@click.command()
@click.option("--burst", is_flag=True, help="Drain the queue, then exit.")
@click.option("--worker-class", type=click.Choice(sorted(WORKER_CLASSES)), default=DEFAULT_WORKER_CLASS,
              show_default=True, help="simple: jobs run in the worker process (fast); "
              "fork: each job runs in a forked child (isolated, much slower).")
@click.option("--name", help="Worker name shown in RQ (default: RQ's own).")
def worker(burst, worker_class, name):
    """Process queued captures into events and rejects."""
    try:
        settings = load()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        built = build_worker(settings, worker_class, name)
        built.connection.ping()
    except queueing.REDIS_ERRORS as exc:
        raise click.ClickException(f"REDIS_URL: cannot reach Redis at {settings.redis_url}: {exc}") from None
    # The scheduler runs retries at their intervals; a burst worker exits before they are due.
    built.work(burst=burst, logging_level=settings.log_level, with_scheduler=not burst)
