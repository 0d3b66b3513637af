"""Decide which captures a command looks at: time window, source and event filters.

The capture file is the source of truth, so event filters (webhook name,
channel, activity, customer) decode and normalise each capture on the fly
with the worker's own code instead of trusting an events file that may lag.
Values of one option are alternatives (``--channel sms --channel email``);
different options must all hold, and event options must hold for one and the
same event of the capture.

A capture the worker would reject (bad input of any kind, caps included) is
reported with its reason, never as a traceback and never after a hang:
``jobs.analyse`` is linear in the body and raises nothing but ``Reject``.
"""
import os
from dataclasses import dataclass, field
from functools import cache, cached_property

from jobs.analyse import Reject, analyse_capture
from receiver.capture import iso_ms
from receiver.settings import SettingsError, load

from .timeexpr import parse_time

OK, WARNINGS, REJECTED = "ok", "warnings", "rejected"
CAPTURE_FIELDS = ("id", "received_at", "body")
MAX_EVENTS_VARIABLE = "DUMPER_MAX_EVENTS"


def worker_settings():
    """Return settings holding the worker's ``DUMPER_MAX_EVENTS`` from the environment, as the worker parses it."""
    return settings_for_cap(os.environ.get(MAX_EVENTS_VARIABLE))


@cache
def settings_for_cap(text):
    """Return settings with only ``DUMPER_MAX_EVENTS`` set to ``text``; None (the default cap) when invalid."""
    # Only this variable: reading captures must not fail on, say, a bad DUMPER_ALLOWED_IPS.
    try:
        return load(environ={} if text is None else {MAX_EVENTS_VARIABLE: text})
    except SettingsError:
        return None


class Analysis:
    """Hold what the worker would make of one capture: events, warnings or a reject reason."""

    def __init__(self, record):
        self.record = record

    @cached_property
    def _result(self):
        """Analyse once, as the worker does; return ``(value, events, warnings, reason)``."""
        try:
            analysis = analyse_capture(self.record, worker_settings())
        except Reject as exc:
            return None, [], [], exc.reason
        return analysis.value, analysis.events, analysis.warnings, None

    @property
    def value(self):
        """Return the decoded JSON payload, or None when it was rejected."""
        return self._result[0]

    @property
    def events(self):
        """Return the normalised events (empty when rejected)."""
        return self._result[1]

    @property
    def warnings(self):
        """Return the distinct parse warnings, in order."""
        return self._result[2]

    @property
    def reason(self):
        """Return why the capture would be rejected, or None."""
        return self._result[3]

    @property
    def status(self):
        """Return ``ok``, ``warnings`` or ``rejected``."""
        return REJECTED if self.reason else WARNINGS if self.warnings else OK

    def distinct(self, name):
        """Return the distinct non-empty values of event field ``name``, in order."""
        return list(dict.fromkeys(str(e[name]) for e in self.events if e.get(name) not in (None, "")))


def is_capture(record):
    """Say whether ``record`` has the fields every reader relies on."""
    return all(isinstance(record.get(name), str) for name in CAPTURE_FIELDS)


def folded(values):
    """Return ``values`` lower-cased and stripped, as a frozenset."""
    return frozenset(str(value).strip().lower() for value in values)


@dataclass(frozen=True)
class Filters:
    """Hold the filters of one command; times stay as typed so they can be re-resolved."""

    since: str = None
    until: str = None
    sources: tuple = ()
    webhook_names: tuple = ()
    channels: tuple = ()
    activities: tuple = ()
    foreignkeys: tuple = ()
    rejects_only: bool = False
    limit: int = None
    now: object = field(default=None, compare=False)

    def window(self):
        """Return ``(since, until)`` as UTC datetimes (None when open)."""
        since = parse_time(self.since, self.now) if self.since else None
        until = parse_time(self.until, self.now) if self.until else None
        return since, until

    def day_range(self):
        """Return the first and last day file names that can hold captures of the window."""
        since, until = self.window()
        return (since.strftime("%Y-%m-%d") if since else None,
                until.strftime("%Y-%m-%d") if until else None)

    @property
    def needs_events(self):
        """Say whether matching needs the capture decoded."""
        return bool(self.webhook_names or self.channels or self.activities or self.foreignkeys
                    or self.rejects_only)

    def describe(self):
        """Return the filters as a JSON-safe dict, for a resume state file."""
        return {"since": self.since, "until": self.until, "sources": list(self.sources),
                "webhook_names": list(self.webhook_names), "channels": list(self.channels),
                "activities": list(self.activities), "foreignkeys": list(self.foreignkeys),
                "rejects_only": self.rejects_only, "limit": self.limit}


class Matcher:
    """Test captures against ``Filters``; built once per command."""

    def __init__(self, filters):
        self.filters = filters
        since, until = filters.window()
        self.since = iso_ms(since) if since else None
        self.until = iso_ms(until) if until else None
        self.sources = frozenset(filters.sources)
        self.webhook_names = folded(filters.webhook_names)
        self.channels = folded(filters.channels)
        self.activities = folded(filters.activities)
        self.customers = frozenset(str(value).strip() for value in filters.foreignkeys)

    def in_window(self, record):
        """Say whether the capture was received in ``[since, until)``."""
        stamp = record["received_at"]
        return (self.since is None or stamp >= self.since) and (self.until is None or stamp < self.until)

    def event_matches(self, event):
        """Say whether one normalised event passes every event filter."""
        def accepts(wanted, value):
            return not wanted or (value is not None and str(value).strip().lower() in wanted)

        customer = not self.customers or {str(event.get("foreignkey")), str(event.get("identity"))} & self.customers
        return (accepts(self.webhook_names, event.get("webhook_name")) and accepts(self.channels, event.get("channel"))
                and accepts(self.activities, event.get("activity")) and bool(customer))

    def matches(self, record, analysis):
        """Say whether a capture passes every filter; decodes only when an event filter needs it."""
        if not self.in_window(record) or (self.sources and record.get("source") not in self.sources):
            return False
        if self.filters.rejects_only and analysis.reason is None:
            return False
        if self.webhook_names or self.channels or self.activities or self.customers:
            return any(self.event_matches(event) for event in analysis.events)
        return True
