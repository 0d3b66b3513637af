"""Check for trouble on a timer of its own and let the alerts decide whether to e-mail.

The monitor runs beside the forwarder, not inside it (``smartech-dumper
serve`` runs it in its own process): a forwarder that is dead, stuck or
failing on every pass still gets reported, and a slow SMTP server never
delays forwarding. Several monitors may run; the alert lock and state file
keep it to one e-mail per ``DUMPER_ALERT_EVERY`` (news excepted). It also
runs the continuous audit every ``DUMPER_AUDIT_EVERY`` (``watch``) and reads
the quarantine of refused posts (``quarantine``): both are in its snapshot.

Failure policy: a check never raises; what goes wrong is logged and the next
check runs on time.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rq import Queue

from receiver.core import keys
from receiver.core import queues as queueing
from receiver.core.settings import Settings
from receiver.forwarder import sources
from receiver.ops import quarantine, watch
from receiver.ops import readiness as status

log = logging.getLogger("receiver.monitor")
CHECK_EVERY = 10.0


def first_failure(queue: Queue) -> str | None:
    """Return ``"<job id>: <last line of its exception>"`` of the oldest dead letter of our queues, or None."""
    for name in keys.queue_names(queue.name):  # the captures' own first, then routing's
        each = Queue(name, connection=queue.connection, serializer=queue.serializer)
        try:
            job_ids = each.failed_job_registry.get_job_ids(0, 0)
            job = each.fetch_job(job_ids[0]) if job_ids else None
            result = job.latest_result() if job else None
        except queueing.REDIS_ERRORS:
            return None
        if job_ids:
            text = (getattr(result, "exc_string", None) or "").strip().splitlines()
            return f"{job_ids[0]}: {text[-1] if text else 'no error recorded'}"
    return None


class Monitor:
    """Snapshot the receiver's state every ``interval`` seconds and hand it to the alert monitor."""

    def __init__(
        self,
        settings: Settings,
        queue: Queue | None = None,
        interval: float = CHECK_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from receiver.ops.alerts import AlertMonitor

        self.settings, self.interval, self.clock = settings, interval, clock
        self.queue = queue or queueing.get_queue(settings)
        self.alerts = AlertMonitor(settings, clock=clock)
        self.redis_down_since: float | None = None

    def observe(self) -> dict[str, Any]:
        """Return the alert snapshot: dead letters, retries, backlog and how long Redis has been away."""
        redis_state = status.redis_status(self.queue)
        now = self.clock()
        if redis_state["reachable"]:
            self.redis_down_since = None
        elif self.redis_down_since is None:
            # The forwarder meets an outage first (it talks to Redis all the time): start from its account.
            forwarder_down = status.forwarder_status(self.settings)["redis_down_seconds"]
            self.redis_down_since = now - (forwarder_down or 0.0)
        waiting = status.backlog_status(self.settings)
        return {
            "failed_count": redis_state["failed_count"],
            "first_error": first_failure(self.queue) if redis_state["failed_count"] else None,
            "retrying": redis_state["retrying"],
            "pending_count": waiting["awaiting_enqueue"] or 0,
            "backlog_unreadable": waiting["awaiting_enqueue"] is None,
            "oldest_pending_age": waiting["oldest_age_seconds"],
            "redis_down_for": None if self.redis_down_since is None else now - self.redis_down_since,
            "routes_problems": self.routes_problems() if redis_state["reachable"] else [],
            "breakers_open": self.breakers_open() if redis_state["reachable"] else [],
            "silent": sources.silent(
                sources.last_seen(self.queue.connection, self.settings.queue, now), self.settings.silence_after
            ),
            "quarantine": self.quarantined(now),
            "audit": watch.fresh(self.settings, now),  # with its ids: the e-mail lists them
        }

    def quarantined(self, now: float) -> dict[str, Any] | None:
        """Return the quarantine's summary (None when it is off or cannot be read)."""
        if not self.settings.quarantine:
            return None
        try:
            return quarantine.summary(self.settings.data_dir, now)
        except OSError as exc:
            log.warning("cannot read the quarantine: %s", exc)
            return None

    def routes_problems(self) -> list[str]:
        """Return the error of each routes file problem this host or a worker met (the last good routes rule)."""
        if not self.settings.routes_path:
            return []
        from receiver.routes import live
        from receiver.routes import status as routing_status

        try:
            routing_status.routes_of(self.settings, self.queue.connection)  # this host's own look at the file
            return [problem["error"] for problem in live.recorded(self.queue.connection, self.settings.queue)]
        except queueing.REDIS_ERRORS:
            return []

    def breakers_open(self) -> list[str]:
        """Return the sinks whose circuit breaker is open (their deliveries wait for a probe to succeed)."""
        if not self.settings.routes_path:
            return []
        from receiver.routes import sinkstate
        from receiver.routes import status as routing_status

        try:
            routes = routing_status.routes_of(self.settings, self.queue.connection)
            names = sorted(routes.sinks) if routes else []
            states = sinkstate.states(self.queue.connection, self.settings.queue, names)
            return [name for name, state in states.items() if state["breaker"]["open"]]
        except queueing.REDIS_ERRORS:
            return []

    def check_once(self) -> str:
        """Audit when due, take one snapshot and let the alert monitor decide; return what it did."""
        now = self.clock()
        if watch.due(self.settings, now):
            watch.run(self.settings, self.queue.connection, datetime.fromtimestamp(now, UTC))
        return self.alerts.observe(self.observe())

    def run(self, stop: threading.Event) -> None:
        """Check every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.check_once()
            except Exception:  # the timer must outlive any surprise
                log.exception("monitor check failed; the next one runs on time")
            stop.wait(self.interval)
