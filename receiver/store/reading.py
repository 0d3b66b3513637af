"""What a reader shows of one capture: what the worker makes of it, and where its events stand.

The readers (``list``, ``show``, ``stats``, ``tail``, the inspector) analyse a
capture with the worker's own code, under the worker's ``DUMPER_MAX_EVENTS``
(the only setting read here: reading captures must not fail on, say, a bad
``DUMPER_ALLOWED_IPS``), and ask the ledger which of its events are written.

Failure policy: the analysis never raises for a capture (``Reject`` becomes
the ``reason``); the ledger's answers never raise (``written``).
"""

from __future__ import annotations

import os
from functools import cache, cached_property
from typing import Any

from receiver.capture.analyse import Reject, analyse_capture
from receiver.core.settings import Settings, SettingsError, load
from receiver.store import written

Record = dict[str, Any]
OK, WARNINGS, REJECTED = "ok", "warnings", "rejected"
STATUSES = (OK, WARNINGS, REJECTED)
MAX_EVENTS_VARIABLE = "DUMPER_MAX_EVENTS"


def worker_settings() -> Settings | None:
    """Return settings holding the worker's ``DUMPER_MAX_EVENTS`` from the environment, as the worker parses it."""
    return settings_for_cap(os.environ.get(MAX_EVENTS_VARIABLE))


@cache
def settings_for_cap(text: str | None) -> Settings | None:
    """Return settings with only ``DUMPER_MAX_EVENTS`` set to ``text``; None (the default cap) when invalid."""
    # Only this variable: reading captures must not fail on, say, a bad DUMPER_ALLOWED_IPS.
    try:
        return load(environ={} if text is None else {MAX_EVENTS_VARIABLE: text})
    except SettingsError:
        return None


class Reading:
    """Hold what the worker would make of one capture: events, warnings or a reject reason.

    With ``data_dir``, also what the events files hold of its events (``written``).
    """

    def __init__(self, record: Record, data_dir: str | None = None) -> None:
        self.record = record
        self.data_dir = data_dir

    @cached_property
    def _result(self) -> tuple[Any, list[Record], list[str], str | None]:
        """Analyse once, as the worker does; return ``(value, events, warnings, reason)``."""
        try:
            analysis = analyse_capture(self.record, worker_settings())
        except Reject as exc:
            return None, [], [], exc.reason
        return analysis.value, analysis.events, analysis.warnings, None

    value = property(lambda self: self._result[0], doc="Return the decoded JSON payload, or None when it was rejected.")
    events = property(lambda self: self._result[1], doc="Return the normalised events (empty when rejected).")
    warnings = property(lambda self: self._result[2], doc="Return the distinct parse warnings, in order.")
    reason = property(lambda self: self._result[3], doc="Return why the capture would be rejected, or None.")

    @cached_property
    def fates(self) -> list[written.Fate]:
        """Return where each event stands in the events files (all waiting when no data dir is known)."""
        if self.data_dir is None or not self.events:
            return [written.Fate(written.WAITING) for _ in self.events]
        return written.fates(self.data_dir, self.record, self.events)

    @cached_property
    def event_count(self) -> int:
        """Return how many events the events files hold, or will, for this capture: not another's guid."""
        if self.data_dir is None or not self.events:
            return len(self.events)
        return written.own_count(self.data_dir, self.record, self.events)

    @property
    def status(self) -> str:
        """Return ``ok``, ``warnings`` or ``rejected``."""
        return REJECTED if self.reason else WARNINGS if self.warnings else OK

    def distinct(self, name: str) -> list[str]:
        """Return the distinct non-empty values of event field ``name``, in order."""
        return list(dict.fromkeys(str(e[name]) for e in self.events if e.get(name) not in (None, "")))
