"""JSON-safe views of captures: the summary ``list --json`` prints, all ``show --json`` prints, the ``stats`` tally.

The CLI prints these and the web inspector will serve them, so both show the
same facts. Counting is streaming: a ``Tally`` grows with the number of
distinct keys (days, hours, webhook names, reasons), never with the number
of captures; reject reasons are capped at ``MAX_REASONS`` distinct values,
the rest are "(other)". Failure policy: ``Tally.add`` reads everything before
it counts anything, so a capture that raises (a hostile record) counts nothing;
``tally_captures`` hands such a capture to its ``warn`` callback and goes on
(an ``OSError`` still ends it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from receiver.store.files import Warn
from receiver.store.filters import Record
from receiver.store.reading import Reading
from receiver.store.text import describe_error, human_size, safe_str

PERIODS = {"day": 10, "hour": 13}  # how much of received_at names the period
EVENT_FIELDS = ("webhook_name", "channel", "activity")
MAX_REASONS = 100
OTHER, NONE = "(other)", "(none)"
KIB = 1024
SIZE_BOUNDS = [KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, KIB * KIB]
MAX_SIZE = 2**63 - 1  # no body is larger: a bigger number in a hand-made record is not a size


def capture_name(record: Record) -> str:
    """Return ``capture ID received at TIME``, for a warning about a capture that cannot be shown."""
    return f"capture {record.get('id')} received at {record.get('received_at')}"


def status_text(analysis: Reading) -> str:
    """Return the status as one short text: ok, the first warning, or the reject reason."""
    if analysis.reason:
        return f"rejected: {analysis.reason}"
    if analysis.warnings:
        more = f" (+{len(analysis.warnings) - 1} more)" if len(analysis.warnings) > 1 else ""
        return f"warning: {analysis.warnings[0]}{more}"
    return "ok"


def summary(record: Record, analysis: Reading) -> dict[str, Any]:
    """Return the JSON-safe one-line summary of a capture."""
    return {
        "id": record["id"],
        "received_at": record["received_at"],
        "source": record.get("source"),
        "user": record.get("user"),
        "remote_addr": record.get("remote_addr"),
        "content_type": record.get("content_type"),
        "size": record.get("size"),
        "panels": analysis.distinct("panel"),
        "webhook_names": analysis.distinct("webhook_name"),
        "channels": analysis.distinct("channel"),
        "activities": analysis.distinct("activity"),
        "foreignkeys": analysis.distinct("foreignkey"),
        "events": analysis.event_count,
        "status": analysis.status,
        "reason": analysis.reason,
        "warnings": analysis.warnings,
    }


def full_view(record: Record, analysis: Reading) -> dict[str, Any]:
    """Return everything about one capture, JSON-safe: record, payload, events, where they were written, status."""
    return {
        "capture": record,
        "payload": analysis.value,
        "events": analysis.events,
        "written": [fate.api() for fate in analysis.fates],
        "warnings": analysis.warnings,
        "status": analysis.status,
        "reason": analysis.reason,
    }


def size_of(record: Record) -> int:
    """Return the capture's size in bytes; 0 when a hand-made record holds something else there."""
    size = record.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_SIZE else 0


def size_bucket(size: int) -> str:
    """Return the label of the size range ``size`` falls in."""
    lower = 0
    for bound in SIZE_BOUNDS:
        if size < bound:
            return f"{human_size(lower)} – {human_size(bound)}"
        lower = bound
    return f">= {human_size(lower)}"


class Tally:
    """Accumulate the counts of one ``stats`` run."""

    def __init__(self, period: str) -> None:
        self.width = PERIODS[period]
        self.periods: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.by_field: dict[str, Counter[str]] = {name: Counter() for name in EVENT_FIELDS}
        self.reasons: Counter[str] = Counter()
        self.sizes: Counter[str] = Counter()
        self.count = self.total = 0
        self.smallest: int | None = None
        self.largest: int | None = None

    def add(self, record: Record, analysis: Reading) -> None:
        """Count one capture; everything is read before anything is counted, so a failure counts nothing."""
        size = size_of(record)
        period = safe_str(record["received_at"])[: self.width].replace("T", " ")
        keys = [
            (name, safe_str(event.get(name)) if event.get(name) is not None else NONE)
            for event in analysis.events
            for name in EVENT_FIELDS
        ]
        counts = dict(
            captures=1,
            events=analysis.event_count,
            bytes=size,
            rejected=int(analysis.reason is not None),
            warnings=int(bool(analysis.warnings)),
        )
        self.periods[period].update(counts)
        for name, key in keys:
            self.by_field[name][key] += 1
        if analysis.reason:
            key = analysis.reason if analysis.reason in self.reasons or len(self.reasons) < MAX_REASONS else OTHER
            self.reasons[key] += 1
        self.sizes[size_bucket(size)] += 1
        self.count, self.total = self.count + 1, self.total + size
        self.smallest = size if self.smallest is None else min(self.smallest, size)
        self.largest = size if self.largest is None else max(self.largest, size)

    def size_summary(self) -> dict[str, int]:
        """Return the payload size figures."""
        mean = (self.total + self.count // 2) // self.count if self.count else 0  # exact: no float overflow
        return {
            "captures": self.count,
            "bytes": self.total,
            "min": self.smallest or 0,
            "mean": mean,
            "max": self.largest or 0,
        }

    def rows(self, period: str) -> Iterator[tuple[str, str, dict[str, int]]]:
        """Yield ``(table, key, counts)`` for every table, in print order."""
        for key in sorted(self.periods):
            yield period, key, dict(self.periods[key])
        for name in EVENT_FIELDS:
            for key, count in self.by_field[name].most_common():
                yield name, key, {"events": count}
        for key, count in self.reasons.most_common():
            yield "reject_reason", key, {"captures": count}
        for bound in [size_bucket(b - 1) for b in SIZE_BOUNDS] + [size_bucket(SIZE_BOUNDS[-1])]:
            if self.sizes[bound]:
                yield "size", bound, {"captures": self.sizes[bound]}


def tally_captures(pairs: Iterable[tuple[Record, Reading]], period: str, warn: Warn) -> Tally:
    """Count every ``(record, Reading)`` of ``pairs`` per ``period``; one that cannot be counted goes to ``warn``."""
    tally = Tally(period)
    for record, analysis in pairs:
        try:
            tally.add(record, analysis)
        except OSError:
            raise  # a closed pipe or a full disk ends the count, not just this capture
        except Exception as exc:  # noqa: BLE001 - a hostile record must not stop the count
            warn(f"{capture_name(record)}: cannot count it ({describe_error(exc)}); skipped")
    return tally
