"""A sink's limits and breaker in the routes file: ``rate``, ``concurrency``, ``breaker_after``, ``breaker_probe``.

``rate = "5/s"`` (or ``/min``, ``/h``) spaces the sink's deliveries (requests,
for an http sink) evenly, at most that many a period across every worker;
``concurrency = 2`` lets at most that many deliveries run at once. The breaker
opens after ``breaker_after`` consecutive failures (0: never) and then lets one
probe through after ``breaker_probe``, the wait doubling up to
``BREAKER_PROBE_MAX``. Failure policy: ``read_limits`` raises ``SinkProblem``
naming the key and what is wrong; ``config.read_sink`` adds the file and the sink.
"""

import re
from dataclasses import dataclass
from typing import Any

from receiver.core.parsers import duration_seconds
from receiver.routes.sinkcheck import SinkProblem

LIMIT_KEYS = ("rate", "concurrency", "breaker_after", "breaker_probe")
PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
RATE = re.compile(r"\s*(\d+)\s*/\s*([a-z]+)\s*")
DEFAULT_BREAKER_AFTER = 5  # consecutive failures that open a sink's breaker
DEFAULT_BREAKER_PROBE = "10s"  # the first wait before a probe; it doubles after each failed probe
BREAKER_PROBE_MAX = 600.0  # the longest wait between two probes, in seconds
MAX_CONCURRENCY = 10_000


@dataclass(frozen=True)
class SinkLimits:
    """A sink's limits: ``interval`` seconds between two deliveries (None: no rate), deliveries in flight, breaker."""

    rate_text: str | None = None
    interval: float | None = None
    concurrency: int | None = None
    breaker_after: int = DEFAULT_BREAKER_AFTER
    breaker_probe: float = 10.0

    def describe(self) -> str:
        """Return the rate and concurrency as ``routes check`` prints them (empty when there are none)."""
        parts = [f"rate {self.rate_text}"] if self.rate_text else []
        parts += [f"concurrency {self.concurrency}"] if self.concurrency else []
        return ", ".join(parts)


def read_rate(value: Any) -> tuple[str, float]:
    """Return ``"N/period"`` and the seconds between two deliveries it allows."""
    found = RATE.fullmatch(value) if isinstance(value, str) else None
    if found is None or found.group(2) not in PERIODS or int(found.group(1)) < 1:
        raise SinkProblem(f'rate: expected deliveries per period, like "5/s", "300/min" or "1000/h", not {value!r}')
    return f"{int(found.group(1))}/{found.group(2)}", PERIODS[found.group(2)] / int(found.group(1))


def read_count(key: str, value: Any, minimum: int, maximum: int) -> int:
    """Return an integer option between ``minimum`` and ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise SinkProblem(f"{key}: expected a whole number from {minimum} to {maximum}, not {value!r}")
    return value


def read_limits(table: dict[str, Any]) -> SinkLimits:
    """Return the limits a ``[sinks.NAME]`` table sets; raise ``SinkProblem`` for a bad one."""
    rate_text, interval = read_rate(table["rate"]) if "rate" in table else (None, None)
    concurrency = (
        read_count("concurrency", table["concurrency"], 1, MAX_CONCURRENCY) if "concurrency" in table else None
    )
    after = read_count("breaker_after", table.get("breaker_after", DEFAULT_BREAKER_AFTER), 0, MAX_CONCURRENCY)
    probe_text = table.get("breaker_probe", DEFAULT_BREAKER_PROBE)
    probe = duration_seconds(str(probe_text)) if not isinstance(probe_text, bool) else None
    if probe is None or not 0 < probe <= BREAKER_PROBE_MAX:
        raise SinkProblem(f"breaker_probe: bad duration {probe_text!r} (like 10s or 1m, at most 10m)")
    return SinkLimits(rate_text, interval, concurrency, after, probe)
