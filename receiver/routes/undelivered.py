"""Find the events routed to a sink and not delivered yet, and send them again: ``undelivered`` and ``sinks resume``.

A delivery job of the routing queues (``<queue>-high``, ``-default``, ``-low``)
is **waiting** when it is queued, or scheduled to wait its turn (its meta says
why: a pause, the breaker, a limit, a Retry-After), **retrying** when it is
scheduled after a failure, and **dead** in the failed registry. Each event of
such a job that its sink has not taken (the delivered sets) is undelivered.

Failure policy: Redis errors propagate to the caller, which reports them. At
most ``MAX_SCANNED`` jobs are looked at per queue and state. Sending again
takes a job out of its registry first and queues it only if this process
took it out, so a job another process moved meanwhile is not queued twice.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from rq import Queue
from rq.job import Job
from rq.registry import BaseRegistry
from rq.serializers import JSONSerializer

from receiver.core.keys import PRIORITIES
from receiver.core.queues import queue_for
from receiver.core.settings import Settings
from receiver.routes.sinkstate import LAST_ANSWER, PAUSED, WAITING, delivered_keys

STATES = ("waiting", "retrying", "dead")
MAX_SCANNED = 10_000
JOB_PREFIX = "deliver-"


@dataclass
class Pending:
    """A delivery job not done: where it is (its queue, the registry holding it), its state and why."""

    job: Job
    queue: Queue
    registry: BaseRegistry | None  # None: queued
    state: str
    reason: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sink(self) -> str:
        """Return the sink the job delivers to."""
        return str(self.job.meta.get("sink") or self.job.args[0])


def why(job: Job, state: str) -> str:
    """Return why a job is not done, in a few words."""
    if state == "dead":
        return "dead letter"
    if state == "retrying":
        total = len(job.retry_intervals or [])
        return f"retry {total - (job.retries_left or 0)} of {total}"
    return str(job.meta.get(WAITING) or "queued")


def delivery_jobs(settings: Settings, connection: redis.Redis, sink: str | None = None) -> Iterator[Pending]:
    """Yield every delivery job not done, high priority first (of ``sink`` only, if given)."""
    for priority in PRIORITIES:
        queue = queue_for(settings, connection, priority)
        scheduled, failed = queue.scheduled_job_registry, queue.failed_job_registry  # each access makes a new one
        places: list[tuple[BaseRegistry | None, list[str]]] = [
            (None, queue.get_job_ids(0, MAX_SCANNED - 1)),
            (scheduled, scheduled.get_job_ids(0, MAX_SCANNED - 1)),
            (failed, failed.get_job_ids(0, MAX_SCANNED - 1)),
        ]
        for registry, ids in places:
            wanted = [ident for ident in ids if ident.startswith(JOB_PREFIX)]
            for job in Job.fetch_many(wanted, connection=connection, serializer=JSONSerializer):
                if job is None or (sink is not None and job.meta.get("sink") != sink):
                    continue
                if registry is failed:
                    state = "dead"
                elif registry is not None and not job.meta.get(WAITING):
                    state = "retrying"
                else:
                    state = "waiting"
                yield Pending(job, queue, registry, state, why(job, state))


def not_taken(settings: Settings, connection: redis.Redis, pending: Pending) -> list[dict[str, Any]]:
    """Return the events of a pending job its sink has not taken yet."""
    events = [event for event in (pending.job.args[1] if len(pending.job.args) > 1 else []) if isinstance(event, dict)]
    if not events:
        return []
    ids = [str(event.get("event_id")) for event in events]
    with connection.pipeline(transaction=False) as pipe:
        for key in delivered_keys(settings.queue, pending.sink, settings.dedup_window):
            pipe.smismember(key, ids)
        taken = {event_id for flags in pipe.execute() for event_id, flag in zip(ids, flags) if flag}
    return [event for event in events if str(event.get("event_id")) not in taken]


def received(event: dict[str, Any]) -> datetime | None:
    """Return when the event's capture was received, or None if unreadable."""
    try:
        return datetime.fromisoformat(str(event.get("received_at")).replace("Z", "+00:00"))
    except ValueError:
        return None


def select(
    settings: Settings,
    connection: redis.Redis,
    sink: str | None = None,
    since: datetime | None = None,
    states: tuple[str, ...] = STATES,
) -> list[Pending]:
    """Return the pending delivery jobs that match, oldest first, each with its events not taken since ``since``."""
    found = []
    for pending in delivery_jobs(settings, connection, sink):
        if pending.state not in states:
            continue
        pending.events = [
            event
            for event in not_taken(settings, connection, pending)
            if since is None or ((when := received(event)) is not None and when >= since)
        ]
        if pending.events:
            found.append(pending)
    return sorted(found, key=lambda each: str(each.events[0].get("received_at")))  # oldest first


def rows(pending: list[Pending]) -> Iterator[dict[str, Any]]:
    """Yield one JSON-safe row per undelivered event: the event, its sink, state, reason and last answer."""
    for each in pending:
        for event in each.events:
            yield {
                "event_id": event.get("event_id"),
                "sink": each.sink,
                "state": each.state,
                "reason": each.reason,
                "last_answer": each.job.meta.get(LAST_ANSWER),
                "route": event.get("route"),
                "received_at": event.get("received_at"),
                "foreignkey": event.get("foreignkey"),
                "queue": each.queue.name,
                "job_id": each.job.id,
            }


def send_again(pending: list[Pending]) -> int:
    """Queue each pending job now, out of its registry (a waiting, retrying or dead one); return how many."""
    sent = 0
    for each in pending:
        if each.registry is None:
            continue  # queued already: it goes in its turn
        if not each.registry.connection.zrem(each.registry.key, each.job.id):
            continue  # another process (the scheduler, another resume) took it meanwhile
        each.queue.enqueue_job(each.job)
        sent += 1
    return sent


def resume_sends(settings: Settings, connection: redis.Redis, sink: str) -> int:
    """Queue the deliveries a pause of ``sink`` kept waiting, high priority first; return how many."""
    paused = [each for each in delivery_jobs(settings, connection, sink) if each.job.meta.get(WAITING) == PAUSED]
    return send_again([each for each in paused if each.registry is not None])
