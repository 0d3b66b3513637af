"""What routing remembers in Redis, shared by every worker host: deliveries done, arrivals, counts.

- ``delivered``: per sink and UTC day, the set of event ids a sink took; a
  delivery skips them, so a retry, a replay or a re-enqueue calls no sink twice
  for one event within the dedup window. (A Redis that lost its data forgets
  them: the sql sink's primary key and the http sink's ``Idempotency-Key``
  cover that case.)
- ``arrivals``: per delayed route and key value, the receive times of the
  events that match its ``unless``; a delayed check looks there.
- ``counts``: per sink, how many events it took.
- ``resting``: per sink, set for the sink's ``timeout`` after an attempt it
  did not answer; its deliveries meanwhile wait instead of holding a lane.

Failure policy: Redis errors propagate; the job is retried.
"""

from typing import Any

import redis

from receiver.core import keys
from receiver.routes.sinkstate import DAY, delivered_keys


def undelivered(
    connection: redis.Redis, queue: str, sink: str, window: float, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return the events the sink has not taken within the window."""
    if not events:
        return []
    ids = [str(event["event_id"]) for event in events]
    with connection.pipeline(transaction=False) as pipe:
        for key in delivered_keys(queue, sink, window):
            pipe.smismember(key, ids)
        answers = pipe.execute()
    done = {event_id for flags in answers for event_id, flag in zip(ids, flags) if flag}
    return [event for event in events if str(event["event_id"]) not in done]


def mark_delivered(connection: redis.Redis, queue: str, sink: str, window: float, events: list[dict[str, Any]]) -> None:
    """Record that the sink took ``events``, and count them."""
    if not events:
        return
    key = delivered_keys(queue, sink, window)[0]
    with connection.pipeline(transaction=False) as pipe:
        pipe.sadd(key, *[str(event["event_id"]) for event in events])
        pipe.expire(key, int(window) + DAY)
        pipe.hincrby(keys.sink_counts(queue), keys.sink_count_field(sink), len(events))
        pipe.execute()


def note_arrival(
    connection: redis.Redis, queue: str, route: str, value: Any, event_id: str, at: float, keep: float
) -> None:
    """Remember that an event matching ``route``'s ``unless`` arrived for ``value`` at ``at``."""
    key = keys.arrivals(queue, route, value)
    with connection.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {event_id: at})
        pipe.expire(key, int(keep) + DAY)
        pipe.execute()


def arrived_since(connection: redis.Redis, queue: str, route: str, value: Any, since: float) -> int:
    """Return how many events matching ``route``'s ``unless`` arrived for ``value`` after ``since``."""
    return int(connection.zcount(keys.arrivals(queue, route, value), f"({since}", "+inf"))


def rest(connection: redis.Redis, queue: str, sink: str, seconds: float) -> None:
    """Let ``sink`` rest for ``seconds``: its deliveries wait instead of trying it."""
    connection.set(keys.resting(queue, sink), "1", px=max(1, round(seconds * 1000)))


def resting(connection: redis.Redis, queue: str, sink: str) -> float:
    """Return the seconds ``sink`` still rests (0: it does not)."""
    return max(0, int(connection.pttl(keys.resting(queue, sink)))) / 1000
