"""Count what the RQ workers do (events, rejects, sink deliveries) in Redis hashes, for every worker host.

A forking RQ worker runs each job in a new process, so prometheus_client's
multiprocess files would pile up one per job; and workers run on hosts the
inspector cannot see. So a job adds its figures with HINCRBY to hashes of
the queue's Redis (one pipelined round trip per job), and the inspector's
collector reads them at scrape time: the sum over every worker and host.
The counters live as long as Redis keeps its data; a Redis that lost it
starts them at zero again, which Prometheus reads as a counter reset.

Failure policy: counting never raises. A Redis error is logged and the
figure is lost; the job goes on (and RQ, not metrics, decides whether it failed).
"""

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

import redis

from receiver.core import keys
from receiver.core.queues import REDIS_ERRORS
from receiver.metrics import labels

log = logging.getLogger("receiver.metrics")
SEPARATOR = "|"  # the last one splits: every value after it (activity, outcome) is a fixed word
EVENTS, REJECTS, DELIVERIES = "events", "rejects", "deliveries"
DELIVERED, RETRY, FAILED = "delivered", "retry", "failed"
# Not failures: a sink answered 429/503 with Retry-After, or a delivery waited for a limit, a pause or the breaker.
THROTTLED, WAITED = "throttled", "waited"


def add(connection: redis.Redis | None, queue: str, what: str, counts: Counter[str]) -> None:
    """Add ``counts`` to the hash of ``what`` in one round trip; log a failure, never raise."""
    if connection is None or not counts:
        return
    try:
        with connection.pipeline(transaction=False) as pipe:
            for field, count in counts.items():
                pipe.hincrby(keys.tally(queue, what), field, count)
            pipe.execute()
    except REDIS_ERRORS as exc:
        log.warning("metrics: %s not counted (Redis): %s", what, exc)
    except Exception:  # a metric must never fail a job
        log.exception("metrics: %s not counted", what)


def count_events(connection: redis.Redis | None, queue: str, events: Iterable[dict[str, Any]]) -> None:
    """Count written events by channel and activity."""
    counts = Counter(
        f"{labels.channel(event.get('channel'))}{SEPARATOR}{labels.activity(event.get('activity'))}" for event in events
    )
    add(connection, queue, EVENTS, counts)


def count_reject(connection: redis.Redis | None, queue: str, reason: str) -> None:
    """Count one written reject by the kind of its reason."""
    add(connection, queue, REJECTS, Counter([labels.reason(reason)]))


def count_rejects(connection: redis.Redis | None, queue: str, reasons: Iterable[str]) -> None:
    """Count written rejects by the kind of their reason, in one round trip."""
    add(connection, queue, REJECTS, Counter(labels.reason(reason) for reason in reasons))


def count_delivery(connection: redis.Redis | None, queue: str, sink: str, outcome: str) -> None:
    """Count one delivery job of ``sink`` that ended with ``outcome`` (delivered, retry, failed, throttled, waited)."""
    add(connection, queue, DELIVERIES, Counter([f"{sink}{SEPARATOR}{outcome}"]))


def read(connection: redis.Redis, queue: str, what: str) -> dict[tuple[str, ...], int]:
    """Return the counts of ``what``, keyed by their label values; Redis errors propagate."""
    found: dict[tuple[str, ...], int] = {}
    for field, value in connection.hgetall(keys.tally(queue, what)).items():
        text = field.decode("utf-8", "replace") if isinstance(field, bytes) else str(field)
        found[tuple(text.rsplit(SEPARATOR, 1))] = int(value)
    return found
