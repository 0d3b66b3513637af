"""The routing jobs: hand a capture's events to their sinks, and run the delayed checks.

``route_capture`` runs inside the capture's job, once its events are written:
it queues one delivery job per (priority, sink) on ``<DUMPER_QUEUE>-high``,
``<DUMPER_QUEUE>-default`` or ``<DUMPER_QUEUE>-low``, schedules one check job per
delayed route that fired on ``<DUMPER_QUEUE>-checks`` (its own queue, so the
status tells a scheduled check from a retry), and notes the arrivals the checks look for. Job ids
are derived from what they do, and queued only if absent, so a retried or
replayed capture queues nothing twice while its jobs exist.

Failure policy: a sink that fails in a way that may pass is retried at the
sink's ``retries`` intervals, then rests in the dead letters; a sink that will
never take the events (another 4xx, an unset variable) goes straight to the
dead letters with the reason. One sink's failure never re-runs another sink:
each has its own job. A routes file that vanishes or turns invalid leaves
the last good routes in force (``live``). An http sink that did not answer
within its ``timeout`` rests as long (``state.rest``): its other deliveries are
rescheduled at their next retry interval without being tried and without
spending a retry, so a dead sink holds the delivery lane for one attempt at a
time, not one per lead. A sink's pause, breaker, ``rate``, ``concurrency`` and
Retry-After make a delivery wait its turn without failing (``attempt``).
Redis errors propagate, so RQ retries. Each delivery job counts its outcome
(delivered, retry, failed, throttled, waited) for /metrics
(``receiver.metrics.tally``), which never raises.
"""

from datetime import UTC, datetime
from typing import Any

import redis
from rq import Queue, Retry, get_current_job

from jobs.routing import attempt, state
from jobs.routing.plan import plan
from receiver.core import queues as queueing
from receiver.core.keys import CHECKS, job_id
from receiver.core.parsers import duration_seconds
from receiver.core.queues import RESULT_TTL, enqueue_jobs_absent, queue_for
from receiver.core.settings import Settings, current
from receiver.routes import config, live
from receiver.routes.match import key_value

SINK_JOB = "jobs.routing.deliver.deliver_events"
CHECK_JOB = "jobs.routing.deliver.run_check"
MAX_DELIVERY_TIMEOUT = 3600.0


def received_time(event: dict[str, Any]) -> float:
    """Return when the event's capture was received, as a Unix time (now if unreadable)."""
    try:
        return datetime.fromisoformat(str(event.get("received_at")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return datetime.now(UTC).timestamp()


def delivery(settings: Settings, sink: config.Sink, events: list[dict[str, Any]], ident: str) -> Any:
    """Return the job data that delivers ``events`` to ``sink``."""
    per_call = 10.0 if sink.type != "http" else (duration_seconds(str(sink.options.get("timeout", "10s"))) or 10)
    timeout = min(MAX_DELIVERY_TIMEOUT, settings.job_timeout + per_call * len(events))
    retry = Retry(max=len(sink.retries), interval=[max(1, round(s)) for s in sink.retries]) if sink.retries else None
    return Queue.prepare_data(
        SINK_JOB,
        args=(sink.name, events),
        job_id=job_id("deliver", ident, sink.name),
        timeout=round(timeout),
        result_ttl=RESULT_TTL,
        retry=retry,
        meta={"sink": sink.name},
        description=f"deliver {len(events)} event(s) to sink {sink.name}",
    )


def route_capture(
    settings: Settings, connection: redis.Redis, capture_id: str, events: list[dict[str, Any]]
) -> dict[str, int]:
    """Queue the deliveries and checks the routes make of a capture's events; return their counts."""
    routes = live.current(settings.routes_path, connection, settings.queue)
    planned = plan(routes, events)
    for route, value, event in planned.arrivals:
        state.note_arrival(
            connection,
            settings.queue,
            route.name,
            value,
            str(event["event_id"]),
            received_time(event),
            keep=(route.after or 0) + settings.dedup_window,
        )
    for (priority, sink_name), batch in planned.deliveries.items():
        enqueue_jobs_absent(
            queue_for(settings, connection, priority),
            [delivery(settings, routes.sinks[sink_name], batch, f"{capture_id}\0{priority}")],
        )
    for route, event in planned.checks:
        due = datetime.fromtimestamp(received_time(event) + (route.after or 0), tz=UTC)
        data = Queue.prepare_data(
            CHECK_JOB,
            args=(route.name, event),
            job_id=job_id("check", route.name, str(event["event_id"])),
            result_ttl=RESULT_TTL,
            description=f"check route {route.name} at {due.isoformat()}",
        )
        enqueue_jobs_absent(queue_for(settings, connection, CHECKS), [data], at=due)
    return {"deliveries": sum(len(batch) for batch in planned.deliveries.values()), "checks": len(planned.checks)}


def deliver_events(sink_name: str, events: list[dict[str, Any]]) -> Any:
    """The delivery job: hand ``events`` to one sink, skipping those it took, within its limits (``attempt``)."""
    settings = current()
    job = get_current_job()
    connection = queueing.job_connection(settings)
    routes = live.current(settings.routes_path, connection, settings.queue) if settings.routes_path else None
    sink = routes.sinks.get(sink_name) if routes else None
    if sink is None:
        return attempt.fail_for_good(job, f"sink {sink_name!r} is not in the routes file any more")
    return attempt.run(settings, job, connection, sink, events)


def run_check(route_name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The delayed check: deliver the triggering event unless a follow-up with the same key arrived since."""
    settings = current()
    connection = queueing.job_connection(settings)
    routes = live.current(settings.routes_path, connection, settings.queue)
    route = next((r for r in routes.routes if r.name == route_name), None)
    if route is None or route.after is None:
        return {"route": route_name, "delivered": False, "why": "route gone from the routes file"}
    trigger = received_time(event)
    value = key_value(event, route.key)
    if value is not None and state.arrived_since(connection, settings.queue, route.name, value, trigger):
        return {"route": route_name, "delivered": False, "why": f"a follow-up for {route.key}={value} arrived"}
    due_at = datetime.fromtimestamp(trigger + route.after, tz=UTC).isoformat(timespec="seconds")
    sent = {**event, "route": route.name, "due_at": due_at.replace("+00:00", "Z")}
    for sink_name in route.to:
        enqueue_jobs_absent(
            queue_for(settings, connection, route.queue),
            [delivery(settings, routes.sinks[sink_name], [sent], f"check\0{route.name}\0{event['event_id']}")],
        )
    return {"route": route_name, "delivered": True, "sinks": list(route.to)}
