"""Run an RQ worker on the receiver's queue, with the JSON serializer."""
import click
import redis
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from receiver import queueing
from receiver.settings import SettingsError, load

WORKER_CLASSES = {"simple": SimpleWorker, "fork": Worker}
DEFAULT_WORKER_CLASS = "simple"


def build_worker(settings, worker_class=DEFAULT_WORKER_CLASS, name=None):
    """Return an RQ worker of ``worker_class`` listening on the configured queue."""
    connection = queueing.connect(settings, blocking=True)
    queue = queueing.get_queue(settings, connection)
    return WORKER_CLASSES[worker_class]([queue], connection=connection, serializer=JSONSerializer, name=name)


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
    except (redis.RedisError, OSError) as exc:
        raise click.ClickException(f"REDIS_URL: cannot reach Redis at {settings.redis_url}: {exc}") from None
    built.work(burst=burst, logging_level=settings.log_level, with_scheduler=not burst)
