"""What the events files hold of one capture's events: written by it, already by another capture, or not yet.

The readers (``list``, ``show``, ``stats``, the inspector) analyse a capture
as the worker does; this says which of its events the worker wrote, from the
host's ledger index (``receiver.ledger.writer.lookup``, read-only). An event written by
this capture may be a repeat (``repeat_of``); one with a guid that another
capture wrote first is not in the events files again. So a capture's count
of events is what the events files hold, or will once it is processed.

Failure policy: never raises for a missing, locked or older index: then
nothing is known and every event counts as this capture's, not yet written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.capture.eventid import position_id
from receiver.core.layout import EVENTS
from receiver.ledger import upgrade
from receiver.ledger import writer as ledger

Record = dict[str, Any]
WRITTEN, ELSEWHERE, WAITING = "written", "elsewhere", "waiting"


@dataclass(frozen=True)
class Fate:
    """One event's place in the events files: ``state`` and, for some, the capture or event it points to."""

    state: str
    capture: str | None = None  # ELSEWHERE: the capture that wrote it
    repeat_of: str | None = None  # WRITTEN: the event it repeats

    def text(self) -> str:
        """Return the fate for a person, as the inspector and ``show`` print it."""
        if self.state == ELSEWHERE:
            return f"already written by capture {self.capture} (same guid)"
        if self.state == WAITING:
            return "not written yet (or older than DUMPER_DEDUP_WINDOW)"
        return f"repeat of event {self.repeat_of}" if self.repeat_of else "written"

    def api(self) -> dict[str, Any]:
        """Return the fate as the JSON views give it."""
        return {"state": self.state, "capture": self.capture, "repeat_of": self.repeat_of, "text": self.text()}


_recorded: dict[str, float | None] = {}  # data dir -> since, once a worker recorded it (it never changes then)


def since(data_dir: str) -> float | None:
    """Return since when the data dir runs today's event-id rule, as recorded; None when not (yet) recorded."""
    if data_dir not in _recorded:
        recorded, value = upgrade.read_since(data_dir)
        if not recorded:
            return None
        _recorded[data_dir] = value
    return _recorded[data_dir]


def fates(data_dir: str, record: Record, events: list[Record]) -> list[Fate]:
    """Return the ``Fate`` of each of the capture's events, in order."""
    ids = [str(event["event_id"]) for event in events]
    old = upgrade.aliases(events, since(data_dir)) or [None] * len(events)
    found = ledger.lookup(data_dir, EVENTS, ids + [alias for alias in old if alias])
    result = []
    for event_id, alias in zip(ids, old):
        hit = found.get(event_id) or (found.get(alias) if alias else None)
        if hit is None:
            result.append(Fate(WAITING))
        elif hit[0] is not None and hit[0] != record.get("id"):
            result.append(Fate(ELSEWHERE, capture=hit[0]))
        else:
            result.append(Fate(WRITTEN, repeat_of=hit[1]))
    return result


def own_count(data_dir: str, record: Record, events: list[Record]) -> int:
    """Return how many of the events the events files hold (or will) for this capture, not for another."""
    # An event placed by its capture is its capture's alone: only guids and old ids can be another's.
    placed = all(event["event_id"] == position_id(record.get("id"), n) for n, event in enumerate(events))
    if placed and upgrade.aliases(events, since(data_dir)) is None:
        return len(events)
    return sum(fate.state != ELSEWHERE for fate in fates(data_dir, record, events))
