"""Run the delivery lane beside the capture lane, so a sink that hangs never holds the slot captures use.

An RQ worker runs one job at a time. When captures and deliveries shared it,
6 hot leads to a sink that never answered (3 s timeout, 2 retries) held the
only worker for 54 s, and every capture posted after them waited. So
``smartech-dumper worker`` with no ``--lane`` serves the capture queue in its
own process and, with ``DUMPER_ROUTES`` set, starts ``worker --lane deliveries``
as a second process for the delivery and check queues (``receiver.core.keys``); a deployment that wants more
delivery slots, or another host for them, runs ``--lane captures`` and
``--lane deliveries`` workers of its own.

Failure policy: the delivery process is restarted with back-off when it dies
(``supervisor``), never stops the capture lane, is stopped (SIGTERM, then
SIGKILL) when the worker stops, and gets SIGTERM from the kernel if the worker
itself dies (Linux), so none is left behind.
"""

import logging
import threading

from receiver.procs import commands
from receiver.procs.supervisor import POLL_INTERVAL, Child, Supervisor

log = logging.getLogger("receiver.worker")


class DeliveryLane:
    """The delivery worker process of a ``worker`` that serves captures itself: started, kept alive, stopped."""

    def __init__(self, worker_class: str, name: str | None):
        child = Child("the delivery lane (worker --lane deliveries)", commands.delivery_lane(worker_class, name))
        self.supervisor = Supervisor([child], say=log.warning)
        self.thread = threading.Thread(target=self.tend, name="delivery-lane", daemon=True)

    def start(self) -> None:
        """Start the process, and the thread that restarts it when it dies."""
        self.supervisor.start()
        self.thread.start()

    def tend(self) -> None:
        """Restart the process whenever it died, until ``stop``."""
        while not self.supervisor.stopping.wait(POLL_INTERVAL):
            self.supervisor.tend()

    def stop(self) -> None:
        """Stop the process: SIGTERM (it finishes the delivery in hand), SIGKILL after the supervisor's grace period."""
        self.supervisor.stop()
        self.thread.join()
