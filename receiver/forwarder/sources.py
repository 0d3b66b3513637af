"""When each source last posted, and which have gone silent: a disabled webhook looks like a quiet day.

Smartech disables a webhook that fails, and then simply stops calling. The
forwarder notes, per batch, the latest ``received_at`` of each source in a
Redis sorted set (``ZADD GT``: receivers on several hosts keep the newest),
so every monitor, ``/readyz`` and ``/metrics`` read the same figures. A source
is silent when it posted within ``SEEN_FOR`` (7 days) but nothing for
``DUMPER_SILENCE_AFTER``; one that posted nothing for longer is forgotten.

Failure policy: ``note`` lets Redis errors through (the forwarder handles
them with its batch); the readers return nothing when Redis does not answer.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import redis

from receiver.capture.record import DEFAULT_SOURCE
from receiver.core import keys
from receiver.core.queues import REDIS_ERRORS

SEEN_FOR = 7 * 86400.0
MAX_SOURCES = 100  # sources reported, the most recent first: a label set that cannot explode


def latest(records: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Return each source's latest ``received_at`` among ``records``, as Unix seconds."""
    found: dict[str, float] = {}
    for record in records:
        try:
            when = datetime.fromisoformat(record["received_at"]).timestamp()
        except (KeyError, TypeError, ValueError):
            continue
        source = str(record.get("source") or DEFAULT_SOURCE)
        found[source] = max(when, found.get(source, when))
    return found


def note(connection: redis.Redis, queue: str, records: Iterable[dict[str, Any]]) -> None:
    """Remember the latest capture of each source among ``records``; an older time never replaces a newer."""
    times = latest(records)
    if times:
        connection.zadd(keys.last_capture(queue), times, gt=True)


def last_seen(connection: redis.Redis, queue: str, now: float) -> dict[str, float]:
    """Return ``{source: seconds since its last capture}`` for the sources seen within ``SEEN_FOR``."""
    try:
        pairs: list[tuple[bytes | str, float]] = connection.zrevrangebyscore(  # type: ignore[assignment]
            keys.last_capture(queue), "+inf", now - SEEN_FOR, start=0, num=MAX_SOURCES, withscores=True
        )
    except REDIS_ERRORS:
        return {}
    ages = {}
    for name, score in pairs:
        ages[name.decode() if isinstance(name, bytes) else name] = max(0.0, now - float(score))
    return ages


def silent(ages: dict[str, float], after: float | None) -> dict[str, float]:
    """Return the sources of ``ages`` silent for longer than ``after`` (none when ``after`` is None: off)."""
    if after is None:
        return {}
    return {source: age for source, age in sorted(ages.items()) if age > after}
