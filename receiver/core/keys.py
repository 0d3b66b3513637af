"""Every Redis key and RQ queue name of ours, spelled once: what each one holds is said beside it.

Our keys start with ``smartech-dumper:`` and, but for the pop records and the
workers' liveness keys, carry the queue (``DUMPER_QUEUE``), so two receivers
sharing one Redis under two queue names never meet (RQ's worker names are
unique in one Redis, and a pop record names its queue). RQ's own keys (``rq:…``) are RQ's; we name only its
queues and our job ids.

Queues. Captures and deliveries never share a queue: the capture jobs run on
``<queue>``, the deliveries on ``<queue>-high``, ``-default`` and ``-low``, the
delayed checks on ``-checks``. A worker's capture lane takes only the first,
its delivery lane only the others, so a sink that hangs can hold a delivery
lane but never the slot captures use.

Pure functions and constants; nothing here raises or touches Redis.
"""

import hashlib

PREFIX = "smartech-dumper"
PRIORITIES = ("high", "default", "low")  # a route's delivery priorities, highest first
CHECKS = "checks"  # the delayed checks wait on a queue of their own, so a scheduled check never reads as a retry
DELIVERY_ORDER = ("high", CHECKS, "default", "low")  # a due check decides a hot lead: right after the high queue
CAPTURES, DELIVERIES, ALL = "captures", "deliveries", "all"  # the worker lanes
LANES = (ALL, CAPTURES, DELIVERIES)
# A sorted set of "<RQ queue key>|<job id>|<worker name>", scored by the time a worker popped the job
# (jobs/worker/pops.py). Records written before the worker's name was added lack its last part.
POPPED = f"{PREFIX}:popped"


def alive(worker: str) -> str:
    """A string with a TTL of seconds: set while the RQ worker named ``worker`` lives (jobs/worker/liveness.py)."""
    return f"{PREFIX}:alive:{worker}"


def queue_name(queue: str, priority: str) -> str:
    """Return the RQ queue of a delivery priority: ``<queue>-high``, ``-default``, ``-low`` or ``-checks``."""
    return f"{queue}-{priority}"


def queue_names(queue: str, lane: str = ALL) -> list[str]:
    """Return the queues a worker of ``lane`` listens to, in the order it takes jobs (``all``: every queue we own).

    ``queue`` is the captures' queue (``DUMPER_QUEUE``); the others are named after it.
    """
    captures = [queue]
    deliveries = [queue_name(queue, priority) for priority in DELIVERY_ORDER]
    if lane == CAPTURES:
        return captures
    if lane == DELIVERIES:
        return deliveries
    return captures + deliveries


def job_id(kind: str, *parts: str) -> str:
    """Return a routing job's id, derived from what the job does (RQ allows only ``[A-Za-z0-9_-]``).

    A job of captures has a ``batch-`` id of its own; ``capture_job`` says which job holds a capture.
    """
    return f"{kind}-" + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def capture_job(queue: str, capture_id: str) -> str:
    """A string with a TTL: the id of the RQ job that carries the capture (forwarder/enqueue.py).

    Set in the transaction that queues the job, so a capture is queued once: the forwarder, a replay and the
    audit's requeue skip a capture whose key exists. A capture with no key was queued (if ever) by a version
    that gave each capture a job of its own, whose id is the capture id.
    """
    return f"{PREFIX}:{queue}:job-of:{capture_id}"


def tally(queue: str, what: str) -> str:
    """A hash: what the workers counted of ``what`` (events, rejects, deliveries), field -> count (metrics/tally.py)."""
    return f"{PREFIX}:{queue}:metrics:{what}"


def last_capture(queue: str) -> str:
    """A sorted set: each source, scored by the Unix time of its latest capture (forwarder/sources.py)."""
    return f"{PREFIX}:{queue}:last-capture"


def routes_problems(queue: str) -> str:
    """A hash: per host and routes file, the problem its processes met reading the file (routes/live.py)."""
    return f"{PREFIX}:{queue}:routes-problems"


def delivered(queue: str, sink: str, day: str) -> str:
    """A set: the event ids ``sink`` took on UTC ``day`` (jobs/routing/state.py)."""
    return f"{PREFIX}:{queue}:delivered:{sink}:{day}"


def sink_counts(queue: str) -> str:
    """A hash: ``sink_count_field(sink)`` -> how many events each sink took (jobs/routing/state.py)."""
    return f"{PREFIX}:{queue}:sinks"


DELIVERED_FIELD = "delivered"


def sink_count_field(sink: str) -> str:
    """Return the field of ``sink_counts`` that counts the events ``sink`` took: ``<sink>:delivered``."""
    return f"{sink}:{DELIVERED_FIELD}"


def arrivals(queue: str, route: str, value: object) -> str:
    """A sorted set: the events matching a delayed route's ``unless`` for one key value, scored by receive time."""
    return f"{PREFIX}:{queue}:arrivals:{route}:{value}"


def resting(queue: str, sink: str) -> str:
    """A string with a TTL: set while ``sink`` rests after an attempt it did not answer (jobs/routing/state.py)."""
    return f"{PREFIX}:{queue}:resting:{sink}"


def sink_rate(queue: str, sink: str) -> str:
    """A string with a TTL: when (ms) ``sink``'s next delivery may start under its ``rate`` (routing/gates.py)."""
    return f"{PREFIX}:{queue}:rate:{sink}"


def sink_inflight(queue: str, sink: str) -> str:
    """A sorted set: ``sink``'s deliveries in flight, scored by when each lapses if its worker died (gates.py)."""
    return f"{PREFIX}:{queue}:inflight:{sink}"


def sink_held(queue: str, sink: str) -> str:
    """A string with a TTL: set while ``sink`` asked, with Retry-After, to be left alone (jobs/routing/gates.py)."""
    return f"{PREFIX}:{queue}:held:{sink}"


def sink_breaker(queue: str, sink: str) -> str:
    """A hash: ``sink``'s circuit breaker: consecutive failures, open, next probe, probe interval (gates.py)."""
    return f"{PREFIX}:{queue}:breaker:{sink}"


def paused_sinks(queue: str) -> str:
    """A hash, kept without a TTL: each paused sink -> when it was paused (receiver/routes/sinkstate.py)."""
    return f"{PREFIX}:{queue}:paused"


def waiting_deliveries(queue: str) -> str:
    """A sorted set: the delivery jobs scheduled to wait their turn (not retries), by when (jobs/routing/attempt.py)."""
    return f"{PREFIX}:{queue}:waiting"
