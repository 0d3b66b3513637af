"""What each sink's state is in Redis, for every host: paused or not, its breaker open or closed.

A pause is a field of ``keys.paused_sinks`` with no TTL, so it outlives
restarts of every process (as long as Redis keeps its data: AOF, see
operations). The breaker's hash is written by the delivery jobs
(``jobs/routing/gates.py``); here it is only read, for ``/readyz``, the
metrics, the alerts, the inspector and ``sinks list``.

Failure policy: Redis errors propagate to the caller, which reports them.
"""

import math
import time
from typing import Any

import redis

from receiver.core import keys
from receiver.core.layout import day_name

DAY = 86400
# The job meta of a delivery that waits its turn (jobs/routing/attempt.py): why; and the reason a pause gives.
WAITING, LAST_ANSWER, PAUSED = "waiting", "last_answer", "paused"
# The fields of a sink's breaker hash (keys.sink_breaker), written by jobs/routing/gates.py.
FAILURES, OPEN, NEXT_PROBE, PROBE_WAIT, OPENED_AT = "failures", "open", "next_probe", "probe_wait", "opened_at"


def text(value: Any) -> str:
    """Return a Redis answer as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def delivered_keys(queue: str, sink: str, window: float, now: float | None = None) -> list[str]:
    """Return the keys of the sink's delivered sets (``keys.delivered``) in the window, today's first."""
    now = time.time() if now is None else now
    return [keys.delivered(queue, sink, day_name(now - back * DAY)) for back in range(math.ceil(window / DAY) + 1)]


def pause(connection: redis.Redis, queue: str, sink: str, now: float | None = None) -> bool:
    """Pause ``sink``: its deliveries wait until ``resume``; return False if it was paused already."""
    return bool(connection.hsetnx(keys.paused_sinks(queue), sink, str(time.time() if now is None else now)))


def unpause(connection: redis.Redis, queue: str, sink: str) -> bool:
    """Lift the pause of ``sink``; return False if it was not paused."""
    return bool(connection.hdel(keys.paused_sinks(queue), sink))


def paused(connection: redis.Redis, queue: str) -> dict[str, float]:
    """Return each paused sink and when it was paused (Unix time)."""
    found = {}
    for sink, since in connection.hgetall(keys.paused_sinks(queue)).items():
        try:
            found[text(sink)] = float(text(since))
        except ValueError:
            found[text(sink)] = 0.0
    return found


def is_paused(connection: redis.Redis, queue: str, sink: str) -> bool:
    """Say whether ``sink`` is paused."""
    return bool(connection.hexists(keys.paused_sinks(queue), sink))


def breaker(connection: redis.Redis, queue: str, sink: str, now: float | None = None) -> dict[str, Any]:
    """Return ``sink``'s breaker: open or not, consecutive failures, seconds to the next probe, open for how long."""
    fields = {text(k): text(v) for k, v in connection.hgetall(keys.sink_breaker(queue, sink)).items()}
    now = time.time() if now is None else now
    is_open = fields.get(OPEN) == "1"
    return {
        "open": is_open,
        "failures": int(float(fields.get(FAILURES, 0) or 0)),
        "next_probe_in": max(0.0, float(fields.get(NEXT_PROBE, 0)) / 1000 - now) if is_open else None,
        "open_for": max(0.0, now - float(fields.get(OPENED_AT, 0)) / 1000) if is_open else None,
    }


def states(connection: redis.Redis, queue: str, sinks: list[str]) -> dict[str, dict[str, Any]]:
    """Return, per sink of ``sinks``: ``paused`` (bool), ``paused_since``, and its ``breaker``."""
    held = paused(connection, queue)
    return {
        sink: {"paused": sink in held, "paused_since": held.get(sink), "breaker": breaker(connection, queue, sink)}
        for sink in sinks
    }
