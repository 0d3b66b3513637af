"""What a sink's deliveries wait for, kept in Redis for every worker host: its rate, its concurrency, its
Retry-After, its circuit breaker.

Each gate is one Lua script timed by Redis' own clock (``TIME``), so workers
on hosts whose clocks differ share one schedule:

- ``pace``: the rate, as evenly spaced slots (a ``rate`` of 5/s gives a slot
  every 200 ms): the key holds when the next slot starts.
- ``enter``/``leave``: the deliveries in flight, a sorted set scored by when
  each lapses, so a worker killed in a delivery frees its place after the
  job's timeout.
- ``hold``/``held``: a sink that answered 429 or 503 with Retry-After.
- ``admit``/``failed``/``succeeded``: the breaker, opened by
  ``breaker_after`` consecutive failures; once open, one probe at a time goes
  through, at waits doubling from ``breaker_probe`` up to the maximum; the
  first success closes it.

Each gate answers how many seconds to wait (0: go). Failure policy: Redis
errors propagate; the delivery job is retried by RQ.
"""

import redis

from receiver.core import keys
from receiver.routes.sinklimits import BREAKER_PROBE_MAX
from receiver.routes.sinkstate import FAILURES, NEXT_PROBE, OPEN, OPENED_AT, PROBE_WAIT

NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
KEEP_MS = 60_000  # how long a gate's key outlives what it holds
# KEYS[1] the rate key; ARGV[1] the slot length in ms. The wait in ms, or 0 with the slot taken.
PACE = (
    NOW_MS
    + """
local slot = tonumber(ARGV[1])
local start = tonumber(redis.call('GET', KEYS[1]) or '0')
if start > now then return start - now end
redis.call('SET', KEYS[1], now + slot, 'PX', slot + ARGV[2])
return 0"""
)
# KEYS[1] the in-flight set; ARGV: limit, token, lapse in ms. 0 when entered, -1 when full.
ENTER = (
    NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return -1
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + ARGV[4])
return 0"""
)
# KEYS[1] the breaker; ARGV[1] the longest probe wait in ms. The wait in ms; 0: closed, or this one is the probe.
ADMIT = (
    NOW_MS
    + """
if redis.call('HGET', KEYS[1], 'open') ~= '1' then return 0 end
local probe = tonumber(redis.call('HGET', KEYS[1], 'next_probe') or '0')
if now < probe then return probe - now end
local wait = math.min(2 * tonumber(redis.call('HGET', KEYS[1], 'probe_wait') or '1000'), tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'next_probe', now + wait, 'probe_wait', wait)
return 0"""
)
# KEYS[1] the breaker; ARGV: failures that open it (0: never), first probe wait in ms. 1 if it is open.
FAILED = (
    NOW_MS
    + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if redis.call('HGET', KEYS[1], 'open') == '1' then return 1 end
local after = tonumber(ARGV[1])
if after > 0 and failures >= after then
  redis.call('HSET', KEYS[1], 'open', '1', 'opened_at', now, 'next_probe', now + ARGV[2], 'probe_wait', ARGV[2])
  return 1
end
return 0"""
)
# KEYS[1] the breaker. The ms until its next probe (0: none due later).
PROBE_IN = NOW_MS + "return math.max(0, tonumber(redis.call('HGET', KEYS[1], 'next_probe') or '0') - now)"
assert all(field in ADMIT + FAILED for field in (OPEN, NEXT_PROBE, PROBE_WAIT, OPENED_AT))  # sinkstate reads them
assert FAILURES in FAILED


def ms(seconds: float) -> int:
    """Return ``seconds`` as whole milliseconds, at least one."""
    return max(1, round(seconds * 1000))


def pace(connection: redis.Redis, queue: str, sink: str, interval: float) -> float:
    """Take the sink's next delivery slot under its rate; return 0, or the seconds until one is free."""
    return int(connection.eval(PACE, 1, keys.sink_rate(queue, sink), ms(interval), KEEP_MS)) / 1000


def enter(connection: redis.Redis, queue: str, sink: str, limit: int, token: str, lapse: float) -> bool:
    """Count one delivery in flight to ``sink`` if fewer than ``limit`` are; it lapses after ``lapse`` seconds."""
    return int(connection.eval(ENTER, 1, keys.sink_inflight(queue, sink), limit, token, ms(lapse), KEEP_MS)) == 0


def leave(connection: redis.Redis, queue: str, sink: str, token: str) -> None:
    """The delivery ``token`` is over: free its place."""
    connection.zrem(keys.sink_inflight(queue, sink), token)


def hold(connection: redis.Redis, queue: str, sink: str, seconds: float) -> None:
    """Keep every delivery to ``sink`` from starting for ``seconds`` (its Retry-After); never shorten a hold."""
    key = keys.sink_held(queue, sink)
    if int(connection.pttl(key)) < ms(seconds):
        connection.set(key, "1", px=ms(seconds))


def held(connection: redis.Redis, queue: str, sink: str) -> float:
    """Return the seconds ``sink`` is still held by a Retry-After (0: not)."""
    return max(0, int(connection.pttl(keys.sink_held(queue, sink)))) / 1000


def admit(connection: redis.Redis, queue: str, sink: str) -> float:
    """Return 0 if a delivery may try ``sink`` (breaker closed, or this is the probe), else the seconds to wait."""
    return int(connection.eval(ADMIT, 1, keys.sink_breaker(queue, sink), ms(BREAKER_PROBE_MAX))) / 1000


def probe_in(connection: redis.Redis, queue: str, sink: str) -> float:
    """Return the seconds until the next probe of ``sink``'s open breaker may go (0: now, or closed)."""
    return int(connection.eval(PROBE_IN, 1, keys.sink_breaker(queue, sink))) / 1000


def failed(connection: redis.Redis, queue: str, sink: str, after: int, probe: float) -> bool:
    """Count a failure of ``sink``; return True if its breaker is open (this one opened it, or it was)."""
    return int(connection.eval(FAILED, 1, keys.sink_breaker(queue, sink), after, ms(probe))) == 1


def succeeded(connection: redis.Redis, queue: str, sink: str) -> None:
    """A delivery to ``sink`` succeeded: its breaker closes and its failures start from zero."""
    connection.delete(keys.sink_breaker(queue, sink))
