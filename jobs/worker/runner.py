"""The RQ workers we run: a capture lane and a delivery lane, each outliving Redis outages.

With no ``--lane`` this process serves the capture queue and starts the
delivery lane as a second process (``lanes.py``), so captures never wait
behind a sink; ``--burst`` drains every queue in this one process instead.

RQ's own worker quits on a Redis error met outside its dequeue loop (when it
finishes a job, sends a heartbeat, cleans its registries) and then dies with
a traceback from its teardown. Ours never exits on a connection error: it
logs the outage once, waits for Redis with back-off, and starts working
again. The job it had in hand is handed back to RQ's own recovery at once
(its execution is marked expired and RQ retries it), instead of after the
job's heartbeat lapses; a job it had popped but not started is put back at
the front of its queue (``pops.py``). Processing a capture twice is harmless: its events
are deduplicated (see ``receiver.ledger.writer``). Only SIGTERM/SIGINT (or the end of a
``--burst``) stop it.

Recovery timing when a worker is killed outright (SIGKILL, OOM): its
liveness key lapses within 5 s, and a live worker, which checks every 2 s
between jobs and while idle, puts the job back at the front of its queue
(``liveness.py``, ``reclaim.py``), whether the job had started or was only
popped: about 9 s from the kill to the job's completion, measured by
``bench/worker_recovery.py``. RQ's own, slower recovery stays as the
fallback: the job's heartbeat lapses (job timeout + 60 s for SimpleWorker,
job monitoring interval + 60 s for the forking Worker) and a live worker's
maintenance (every maintenance interval) retries it.
"""

import logging
import signal
import threading
from types import FrameType

from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from jobs.worker.lanes import DeliveryLane
from jobs.worker.liveness import Watchful
from jobs.worker.outage import Outage, popped_in_hand, recover
from jobs.worker.pops import RememberingQueue
from receiver.core import queues as queueing
from receiver.core.keys import ALL, CAPTURES, queue_names
from receiver.core.settings import Settings

WORKER_CLASSES = {
    "simple": type("DumperSimpleWorker", (Watchful, SimpleWorker), {}),
    "fork": type("DumperWorker", (Watchful, Worker), {}),
}
DEFAULT_WORKER_CLASS = "simple"
JOB_MONITORING_INTERVAL = 10
WORKER_TTL = 20  # RQ's registration of the worker; the idle dequeue wakes every liveness.CHECK_EVERY
# Far above the 5 s dequeue wait, so only a Redis that stopped answering trips it.
SOCKET_TIMEOUT = 30.0
MAX_CONNECTION_WAIT = 5  # RQ's own back-off while its dequeue cannot reach Redis
log = logging.getLogger("receiver.worker")


def build_worker(
    settings: Settings,
    worker_class: str = DEFAULT_WORKER_CLASS,
    name: str | None = None,
    outage: Outage | None = None,
    lane: str = ALL,
) -> Watchful:
    """Return an RQ worker of ``worker_class`` listening on the queues of ``lane`` (``all``: every queue)."""
    connection = queueing.connect(settings, blocking=True, read_timeout=SOCKET_TIMEOUT)
    queues = [
        RememberingQueue(name, connection=connection, serializer=JSONSerializer)
        for name in queue_names(settings.queue, lane)
    ]
    built = WORKER_CLASSES[worker_class](
        queues,
        connection=connection,
        serializer=JSONSerializer,
        queue_class=RememberingQueue,  # notes each popped job id, so an outage right after a pop loses no job
        name=name,
        worker_ttl=WORKER_TTL,
        job_monitoring_interval=JOB_MONITORING_INTERVAL,
        maintenance_interval=max(1, round(settings.maintenance_interval)),
    )
    built.max_connection_wait_time = MAX_CONNECTION_WAIT
    built.outage = outage or Outage()
    built.watched = queue_names(settings.queue)  # a dead worker's job is handed back whatever its lane
    return built


def run(
    settings: Settings,
    worker_class: str = DEFAULT_WORKER_CLASS,
    name: str | None = None,
    burst: bool = False,
    lane: str = ALL,
) -> int:
    """Work the queues of ``lane`` until stopped (``all``: captures here, deliveries in a process of their own)."""
    if lane != ALL or burst:  # a burst drains every queue in order, one process: no latency to protect
        return run_lane(settings, worker_class, name, burst, lane)
    if not settings.routes_path:  # no routes, no deliveries: the capture queue is all there is
        return run_lane(settings, worker_class, name, burst, CAPTURES)
    deliveries = DeliveryLane(worker_class, name)
    deliveries.start()
    try:
        return run_lane(settings, worker_class, name, burst, CAPTURES)
    finally:
        deliveries.stop()


def run_lane(settings: Settings, worker_class: str, name: str | None, burst: bool, lane: str) -> int:
    """Work until stopped, starting over after every Redis outage; return the exit status."""
    stop = threading.Event()
    outage = Outage()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    while not stop.is_set():
        built = None
        failure: BaseException | None
        try:
            built = build_worker(settings, worker_class, name, outage, lane)  # RQ asks Redis for our address here
            # The scheduler runs retries at their intervals; a burst worker exits before they are due.
            built.work(burst=burst, logging_level=settings.log_level, with_scheduler=not burst)
        except queueing.REDIS_ERRORS as exc:  # from RQ's start-up or teardown, once it quit on the outage
            failure = exc
        else:
            failure = built.redis_failure
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):  # RQ's handlers point at the worker that quit
                signal.signal(signum, request_stop)
        if failure is None or (built is not None and (built._stop_requested or built.stop_wanted)):
            return 0
        outage.failed(failure)
        if not outage.wait_for_redis(queueing.connect(settings), stop):
            return 0
        if built is not None:
            recover(built.connection, settings, built.in_hand or popped_in_hand())
        name = None  # the old name may still be registered until its TTL lapses
    return 0
