"""Decide which captures a command looks at: time window, source and event filters.

The capture file is the source of truth, so event filters (webhook name,
channel, activity, customer) decode and normalise each capture on the fly
with the worker's own code instead of trusting an events file that may lag.
Values of one option are alternatives (``--channel sms --channel email``);
different options must all hold, and event options must hold for one and the
same event of the capture.

Failure policy: a capture the worker would reject (bad input of any kind,
caps included) is reported with its reason, never as a traceback and never
after a hang: ``receiver.capture.analyse`` is linear in the body and raises nothing but
``Reject``. A bad time raises ``TimeExprError``, a window that ends before
it starts ``WindowError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from receiver.capture.record import utc_ms
from receiver.core import layout
from receiver.store.reading import Reading
from receiver.store.timeexpr import parse_time

Record = dict[str, Any]
CAPTURE_FIELDS = ("id", "received_at", "body")


class WindowError(ValueError):
    """The time window ends before it starts."""


def is_capture(record: Record) -> bool:
    """Say whether ``record`` has the fields every reader relies on."""
    return all(isinstance(record.get(name), str) for name in CAPTURE_FIELDS)


def folded(values: tuple[str, ...]) -> frozenset[str]:
    """Return ``values`` lower-cased and stripped, as a frozenset."""
    return frozenset(str(value).strip().lower() for value in values)


@dataclass(frozen=True)
class Filters:
    """Hold the filters of one command; times stay as typed so they can be re-resolved."""

    since: str | None = None
    until: str | None = None
    sources: tuple[str, ...] = ()
    webhook_names: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    foreignkeys: tuple[str, ...] = ()
    rejects_only: bool = False
    limit: int | None = None
    statuses: tuple[str, ...] = ()  # of STATUSES; empty: any
    now: datetime | None = field(default=None, compare=False)

    def window(self) -> tuple[datetime | None, datetime | None]:
        """Return ``(since, until)`` as UTC datetimes (None when open)."""
        since = parse_time(self.since, self.now) if self.since else None
        until = parse_time(self.until, self.now) if self.until else None
        return since, until

    def check_window(self) -> None:
        """Raise ``WindowError`` when the window ends before it starts."""
        since, until = self.window()
        if since and until and since >= until:
            raise WindowError(f"--since ({self.since}) must be before --until ({self.until})")

    def day_range(self) -> tuple[str | None, str | None]:
        """Return the first and last day file names that can hold captures of the window."""
        since, until = self.window()
        return (layout.day_name(since) if since else None, layout.day_name(until) if until else None)

    def describe(self) -> dict[str, Any]:
        """Return the filters as a JSON-safe dict, for a resume state file."""
        return {
            "since": self.since,
            "until": self.until,
            "sources": list(self.sources),
            "webhook_names": list(self.webhook_names),
            "channels": list(self.channels),
            "activities": list(self.activities),
            "foreignkeys": list(self.foreignkeys),
            "rejects_only": self.rejects_only,
            "limit": self.limit,
            # Only when set: a resume state file written before the option existed must still match.
            **({"statuses": list(self.statuses)} if self.statuses else {}),
        }


class Matcher:
    """Test captures against ``Filters``; built once per command."""

    def __init__(self, filters: Filters) -> None:
        self.filters = filters
        since, until = filters.window()
        self.since = utc_ms(since) if since else None
        self.until = utc_ms(until) if until else None
        self.sources = frozenset(filters.sources)
        self.webhook_names = folded(filters.webhook_names)
        self.channels = folded(filters.channels)
        self.activities = folded(filters.activities)
        self.customers = frozenset(str(value).strip() for value in filters.foreignkeys)
        self.statuses = folded(filters.statuses)

    def in_window(self, record: Record) -> bool:
        """Say whether the capture was received in ``[since, until)``."""
        stamp = record["received_at"]
        return (self.since is None or stamp >= self.since) and (self.until is None or stamp < self.until)

    def event_matches(self, event: Record) -> bool:
        """Say whether one normalised event passes every event filter."""

        def accepts(wanted: frozenset[str], value: Any) -> bool:
            return not wanted or (value is not None and str(value).strip().lower() in wanted)

        customer = not self.customers or {str(event.get("foreignkey")), str(event.get("identity"))} & self.customers
        return (
            accepts(self.webhook_names, event.get("webhook_name"))
            and accepts(self.channels, event.get("channel"))
            and accepts(self.activities, event.get("activity"))
            and bool(customer)
        )

    def matches(self, record: Record, analysis: Reading) -> bool:
        """Say whether a capture passes every filter; decodes only when an event filter needs it."""
        if not self.in_window(record) or (self.sources and record.get("source") not in self.sources):
            return False
        if self.filters.rejects_only and analysis.reason is None:
            return False
        if self.statuses and analysis.status not in self.statuses:
            return False
        if self.webhook_names or self.channels or self.activities or self.customers:
            return any(self.event_matches(event) for event in analysis.events)
        return True
