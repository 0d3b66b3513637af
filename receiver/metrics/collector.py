"""Compute the gauges and the workers' counters at scrape time, from Redis and the disk.

Each scrape asks what ``/readyz`` and the e-mail alerts ask (``receiver.ops.readiness``:
queue depths, retries, dead letters, backlog, forwarder heartbeat), so the
three never disagree, plus the RQ workers' heartbeats and the counts the jobs
keep in Redis (``tally``). Every Redis call is bounded by the Redis timeout.

Failure policy: ``collect`` never raises. A part that fails is logged and
left out of the scrape (Redis away: ``redis_up`` is 0 and the Redis figures
are absent); the rest is still reported.
"""

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from receiver.core import keys
from receiver.core.queues import REDIS_ERRORS
from receiver.core.settings import Settings
from receiver.forwarder import sources
from receiver.metrics import names, sinkgauges, tally
from receiver.ops import quarantine, watch
from receiver.ops import readiness as status
from receiver.routes import status as routing_status

log = logging.getLogger("receiver.metrics")
Family = GaugeMetricFamily | CounterMetricFamily


def gauge(name: str, help_text: str, value: float | None, **label_values: str) -> GaugeMetricFamily:
    """Return a gauge family with one sample (none if ``value`` is None)."""
    family = GaugeMetricFamily(name, help_text, labels=list(label_values))
    if value is not None:
        family.add_metric(list(label_values.values()), value)
    return family


def counter(name: str, help_text: str, label_names: list[str], counts: dict[tuple[str, ...], int]) -> Family:
    """Return a counter family with one sample per label values in ``counts``."""
    family = CounterMetricFamily(name.removesuffix("_total"), help_text, labels=label_names)
    for values, count in sorted(counts.items()):
        if len(values) == len(label_names):
            family.add_metric(list(values), count)
    return family


class StateCollector(Collector):
    """Report the receiver's state; ``queue`` is the captures' RQ queue on the Redis to read."""

    def __init__(self, settings: Settings, connection: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.settings, self.clock = settings, clock
        self.queue = Queue(settings.queue, connection=connection, serializer=JSONSerializer)

    def collect(self) -> Iterator[Family]:
        """Yield every family that could be computed now."""
        parts = (self.settings_part, self.disk_part, self.backlog_part, self.forwarder_part, self.redis_part)
        for part in (*parts, self.quarantine_part, self.audit_part, self.sinks_part):
            try:
                yield from part()
            except Exception:  # one broken part must not cost the scrape the others
                log.exception("metrics: %s failed in this scrape", part.__name__)

    def settings_part(self) -> Iterator[Family]:
        """Yield the alert thresholds, so the alerting rules compare with the settings in force."""
        yield gauge(names.PENDING_AFTER, names.PENDING_AFTER_HELP, self.settings.alert_pending_after)
        yield gauge(names.REDIS_AFTER, names.REDIS_AFTER_HELP, self.settings.alert_redis_after)
        yield gauge(names.MIN_FREE, names.MIN_FREE_HELP, self.settings.min_free_bytes)
        yield gauge(names.SILENCE_AFTER, names.SILENCE_AFTER_HELP, self.settings.silence_after)

    def disk_part(self) -> Iterator[Family]:
        """Yield the free bytes of the data dir's file system (no probe write: a scrape writes nothing)."""
        try:
            free: float | None = shutil.disk_usage(self.settings.data_dir).free
        except OSError as exc:
            log.warning("metrics: cannot read the data dir's free space: %s", exc)
            free = None
        yield gauge(names.DISK_FREE, names.DISK_FREE_HELP, free)

    def backlog_part(self) -> Iterator[Family]:
        """Yield the captures waiting on disk, the oldest one's age and the torn lines."""
        state = status.backlog_status(self.settings)
        count = state["awaiting_enqueue"]
        yield gauge(names.BACKLOG_READABLE, names.BACKLOG_READABLE_HELP, 0 if count is None else 1)
        yield gauge(names.BACKLOG, names.BACKLOG_HELP, count)
        age = state["oldest_age_seconds"]
        yield gauge(names.BACKLOG_AGE, names.BACKLOG_AGE_HELP, None if count is None else max(0.0, age or 0.0))
        yield gauge(names.TORN_LINES, names.TORN_LINES_HELP, state["torn_lines"])

    def forwarder_part(self) -> Iterator[Family]:
        """Yield whether the forwarder beats, how long ago it did, and since when it finds Redis away."""
        state = status.forwarder_status(self.settings)
        yield gauge(names.FORWARDER_UP, names.FORWARDER_UP_HELP, 1 if state["alive"] else 0)
        yield gauge(names.FORWARDER_AGE, names.FORWARDER_AGE_HELP, state["heartbeat_age_seconds"])
        down = state["redis_down_seconds"] or 0.0
        yield gauge(names.FORWARDER_REDIS_DOWN, names.FORWARDER_REDIS_DOWN_HELP, down if state["alive"] else None)

    def quarantine_part(self) -> Iterator[Family]:
        """Yield the posts refused for their credentials and kept, when the quarantine is on."""
        if not self.settings.quarantine:
            return
        kept = quarantine.summary(self.settings.data_dir, self.clock())
        yield gauge(names.QUARANTINE_POSTS, names.QUARANTINE_POSTS_HELP, kept["posts"])
        yield gauge(names.QUARANTINE_RECENT, names.QUARANTINE_RECENT_HELP, kept["recent"])
        yield gauge(names.QUARANTINE_BYTES, names.QUARANTINE_BYTES_HELP, kept["bytes"])

    def audit_part(self) -> Iterator[Family]:
        """Yield the last continuous audit's counts and age, when the audit is on and has run (stale or not)."""
        if self.settings.audit_window is None:
            return
        books = watch.last(self.settings.data_dir)
        if books is None:
            return
        counts = books["counts"]
        yield gauge(names.AUDIT_CAPTURES, names.AUDIT_CAPTURES_HELP, counts.get("captures"))
        yield gauge(names.AUDIT_MISSING, names.AUDIT_MISSING_HELP, counts.get("missing"))
        yield gauge(names.AUDIT_STUCK, names.AUDIT_STUCK_HELP, counts.get("stuck"))
        yield gauge(names.AUDIT_AGE, names.AUDIT_AGE_HELP, max(0.0, self.clock() - books["when"]))

    def sinks_part(self) -> Iterator[Family]:
        """Yield, with routes, each sink's breaker and pause, and the deliveries waiting their turn."""
        yield from sinkgauges.families(self.settings, self.queue.connection)

    def redis_part(self) -> Iterator[Family]:
        """Yield the queue figures, the workers' heartbeats and the jobs' counts, or ``redis_up 0``."""
        state = status.redis_status(self.queue)
        if not state["reachable"]:
            yield gauge(names.REDIS_UP, names.REDIS_UP_HELP, 0)
            return
        try:
            families = [
                *self.queue_families(state),
                *self.worker_families(),
                *self.tally_families(),
                self.sources_family(),
            ]
        except REDIS_ERRORS as exc:  # Redis went away between the probes
            log.warning("metrics: Redis failed in this scrape: %s", exc)
            yield gauge(names.REDIS_UP, names.REDIS_UP_HELP, 0)
            return
        yield gauge(names.REDIS_UP, names.REDIS_UP_HELP, 1)
        yield from families

    def sources_family(self) -> Family:
        """Return the seconds since each recent source's last capture (``receiver.forwarder.sources``)."""
        ages = GaugeMetricFamily(names.LAST_CAPTURE_AGE, names.LAST_CAPTURE_AGE_HELP, labels=["source"])
        for source, age in sorted(sources.last_seen(self.queue.connection, self.settings.queue, self.clock()).items()):
            ages.add_metric([source], age)
        return ages

    def queue_families(self, state: dict[str, Any]) -> list[Family]:
        """Return the depth of each queue ``redis_status`` names, retrying jobs, scheduled checks, dead letters."""
        depths = GaugeMetricFamily(names.QUEUE_JOBS, names.QUEUE_JOBS_HELP, labels=["queue"])
        for name, depth in sorted(state["queues"].items()):
            depths.add_metric([name], depth)
        return [
            depths,
            gauge(names.RETRYING, names.RETRYING_HELP, state["retrying"]),
            gauge(names.CHECKS_SCHEDULED, names.CHECKS_SCHEDULED_HELP, state["checks_scheduled"]),
            gauge(names.DEAD_LETTERS, names.DEAD_LETTERS_HELP, state["failed_count"]),
        ]

    def worker_families(self) -> list[Family]:
        """Return how many RQ workers are registered on our queues, and each one's heartbeat age."""
        ages = GaugeMetricFamily(names.WORKER_AGE, names.WORKER_AGE_HELP, labels=["worker"])
        seen: dict[str, float] = {}
        for name in keys.queue_names(self.settings.queue):  # the queues a worker listens to
            queue = Queue(name, connection=self.queue.connection, serializer=JSONSerializer)
            for worker in Worker.all(queue=queue):
                beat = worker.last_heartbeat
                if worker.name not in seen and beat is not None:
                    seen[worker.name] = max(0.0, self.clock() - beat.timestamp())
        for name, age in sorted(seen.items()):
            ages.add_metric([name], age)
        return [gauge(names.WORKERS, names.WORKERS_HELP, len(seen)), ages]

    def tally_families(self) -> list[Family]:
        """Return the counts the jobs keep in Redis: events, rejects, sink deliveries, sink events."""
        connection, queue = self.queue.connection, self.settings.queue
        delivered = routing_status.delivered_counts(connection, queue)
        sink_events: dict[tuple[str, ...], int] = {(sink,): count for sink, count in delivered.items()}
        return [
            counter(
                names.EVENTS, names.EVENTS_HELP, ["channel", "activity"], tally.read(connection, queue, tally.EVENTS)
            ),
            counter(names.REJECTS, names.REJECTS_HELP, ["reason"], tally.read(connection, queue, tally.REJECTS)),
            counter(
                names.SINK_DELIVERIES,
                names.SINK_DELIVERIES_HELP,
                ["sink", "outcome"],
                tally.read(connection, queue, tally.DELIVERIES),
            ),
            counter(names.SINK_EVENTS, names.SINK_EVENTS_HELP, ["sink"], sink_events),
        ]
