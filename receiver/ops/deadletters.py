"""What ``smartech-dumper failed`` shows of one dead letter: a capture job's, a delivery's or a delayed check's.

Failure policy: never raises for what a job holds; a job whose data is gone
or unreadable is described with what is known (``-`` for the rest).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from receiver.capture.linehead import item_id
from receiver.capture.record import parse_line

UNKNOWN = "-"
NO_ERROR = "no error recorded"
NO_RETRY_POLICY = "none (no retry policy)"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
SUMMARY_FIELDS = ("id", "queue", "ended_at", "source", "capture_id", "captures", "received_at", "error")


@dataclass(frozen=True)
class FailedJob:
    """Hold what we show of one dead letter."""

    id: str
    queue: str
    ended_at: str
    source: str
    capture_id: str  # a job of captures: its first
    captures: int  # how many captures the job carries (0: a delivery, a check, or data that is gone)
    received_at: str
    enqueued_at: str
    retries_left: int | None
    error: str
    traceback: str

    def summary(self) -> dict[str, Any]:
        """Return the JSON-safe fields ``failed list --json`` gives of it."""
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}

    def details(self) -> list[tuple[str, object]]:
        """Return its ``(label, value)`` pairs, in the order ``failed show`` gives them."""
        return [
            ("job id", self.id),
            ("capture id", self.capture_id),
            ("source", self.source),
            ("received_at", self.received_at),
            ("enqueued_at", self.enqueued_at),
            ("ended_at", self.ended_at),
            ("retries left", NO_RETRY_POLICY if self.retries_left is None else self.retries_left),
            ("queue", self.queue),
            ("captures", self.captures),
        ]


def utc_text(when: datetime | None) -> str:
    """Return a datetime as ``YYYY-MM-DDTHH:MM:SSZ``, or ``-`` when there is none."""
    if when is None:
        return UNKNOWN
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(TIME_FORMAT)


def captures_of(job: Job) -> list[Any]:
    """Return the captures a job of captures carries (lines or records); [] for any other job."""
    try:
        args = job.args
    except DeserializationError:
        return []
    if args and isinstance(args[0], list) and str(job.func_name).endswith(".process_batch"):
        return args[0]
    return [args[0]] if args and isinstance(args[0], dict) else []  # an older version's job: (capture,)


def dead_captures(connection: redis.Redis, queue: str, limit: int) -> set[str]:
    """Return the ids of the captures in the first ``limit`` dead letters of the capture queue ``queue``."""
    job_ids = FailedJobRegistry(queue, connection=connection, serializer=JSONSerializer).get_job_ids(0, limit - 1)
    dead = set(job_ids)  # an older version's job: its id is its capture's
    for job in Job.fetch_many(job_ids, connection=connection, serializer=JSONSerializer):
        if job is not None:
            dead.update(capture_id for capture_id in map(item_id, captures_of(job)) if capture_id is not None)
    return dead


def capture_of(job: Job) -> dict[str, Any]:
    """Return the (first) capture dict the job was given (a routing job: its first event), or {} if unreadable."""
    try:
        args = job.args
    except DeserializationError:
        return {}
    carried = captures_of(job)
    if carried:
        first = carried[0]
        record = parse_line(first.encode("utf-8", "surrogatepass")) if isinstance(first, str) else first
        return record if isinstance(record, dict) else {"id": item_id(first)}
    given = args[1] if len(args) > 1 else None  # a delivery: (sink, events); a delayed check: (route, event)
    first = given[0] if isinstance(given, list) and given else given
    if isinstance(first, dict):
        return {"source": first.get("source"), "id": first.get("capture_id"), "received_at": first.get("received_at")}
    return {}


def traceback_of(job: Job) -> str:
    """Return the full traceback of the job's latest failure, or an empty string."""
    result = job.latest_result()
    return (getattr(result, "exc_string", None) or "").strip()


def last_line(text: str) -> str:
    """Return the last non-blank line of ``text``: the exception type and message."""
    # Only "\n" ends a traceback line: splitlines() would also cut at a CR, NEL or U+2028 quoted from a payload.
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return lines[-1] if lines else NO_ERROR


def describe(job_id: str, job: Job | None, queue_name: str) -> FailedJob:
    """Return the ``FailedJob`` of ``job_id`` in ``queue_name``; ``job`` is None when its data is gone from Redis."""
    if job is None:
        gone = "job data is gone from Redis (expired?); the capture is still on disk"
        return FailedJob(job_id, queue_name, UNKNOWN, UNKNOWN, UNKNOWN, 0, UNKNOWN, UNKNOWN, None, gone, "")
    capture = capture_of(job)
    trace = traceback_of(job)
    return FailedJob(
        id=job_id,
        queue=queue_name,
        ended_at=utc_text(job.ended_at),
        source=str(capture.get("source") or UNKNOWN),
        capture_id=str(capture.get("id") or UNKNOWN),
        captures=len(captures_of(job)),
        received_at=str(capture.get("received_at") or UNKNOWN),
        enqueued_at=utc_text(job.enqueued_at),
        retries_left=job.retries_left,
        error=last_line(trace),
        traceback=trace,
    )
