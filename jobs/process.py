"""The RQ job: analyse a batch of captures into events, write the new events and the rejects.

A job carries many captures (``receiver.forwarder.enqueue``): each as its
captures line, or as its record. All of them are analysed first; then the
events and rejects are written with one ledger transaction, one append and
one sync per day file (``ledger.write_groups``), counted in one round trip,
and routed capture by capture.

Failure policy: bad input never raises. A capture that cannot be read,
decoded, normalised or encoded becomes its reject, and the batch goes on, so
a worker never crash-loops on a poison payload and one bad capture never
fails the others. Anything else (a bad setting, a full disk, a permission
error, Redis away while routing) is raised so RQ retries the whole job and
finally keeps it in the FailedJobRegistry. Reprocessing a capture, alone or in
another batch, yields the same event ids (its capture and position, or a
guid: ``eventid``), and events (or a reject) already written on this host are
not written again (``ledger``); an event with the content of another recent
capture's is written with ``repeat_of`` (``repeats``).
"""

import logging
from collections.abc import Iterable
from typing import Any

from receiver.capture.analyse import Reject, analyse_capture
from receiver.capture.linehead import LINE_START, item_id
from receiver.capture.record import capture_day, parse_line, reject_record
from receiver.core import queues as queueing
from receiver.core.layout import EVENTS, REJECTS
from receiver.core.settings import Settings, current
from receiver.ledger import upgrade
from receiver.ledger import writer as ledger
from receiver.metrics import tally

log = logging.getLogger("receiver.worker")
MAX_SUMMARY_WARNINGS = 20
TORN = "not a whole capture line (torn)"


def unique(items: Iterable[str], limit: int = MAX_SUMMARY_WARNINGS) -> list[str]:
    """Return the first ``limit`` distinct ``items`` in order."""
    return list(dict.fromkeys(items))[:limit]


def as_capture(item: Any) -> tuple[Any, str | None]:
    """Return ``(capture, reason)``: the record a job item holds, and why it is rejected before analysis (or None)."""
    if not (isinstance(item, str) and item.startswith(LINE_START)):
        return item, None  # a record, or what no version queues: its analysis says what is wrong with it
    record = parse_line(item.encode("utf-8", "surrogatepass"))
    return (record, None) if record is not None else ({}, TORN)


class Batch:
    """The captures of one job, what analysing each gave, and the groups of records to write."""

    def __init__(self, settings: Settings, captures: list[Any]) -> None:
        self.settings = settings
        self.groups: dict[tuple[str, str], tuple[list[dict[str, Any]], list[str | None], list[bytes | None]]] = {}
        self.outcomes: list[tuple[Any, list[dict[str, Any]], dict[str, Any] | None, list[str]]] = []
        for capture, reason in captures:
            self.analyse(capture, reason)

    def add(
        self, kind: str, day: str, records: list[dict[str, Any]], aliases: list[str | None] | None, lines: Any
    ) -> None:
        """Add records (with their old ids and encoded lines, if any) to the group of their day file."""
        group = self.groups.setdefault((kind, day), ([], [], []))
        group[0].extend(records)
        group[1].extend(aliases or [None] * len(records))
        group[2].extend(lines or [None] * len(records))  # None: the ledger encodes it (a reject)

    def analyse(self, capture: Any, reason: str | None) -> None:
        """Analyse one capture; note its events, or its reject."""
        day = capture_day(capture)
        try:
            if reason is not None:
                raise Reject(reason)
            analysis = analyse_capture(capture, self.settings)
        except Reject as exc:
            reason = str(exc)
        except Exception as exc:  # a payload met a bug: reject this capture, keep the batch
            log.exception("capture %s could not be analysed", capture.get("id") if isinstance(capture, dict) else None)
            reason = f"could not be analysed ({type(exc).__name__}); the worker's log has the traceback"
        else:
            if analysis.events:  # the rule's start is read (and on a new data dir, written) only once there are events
                since = upgrade.rule_since(self.settings.data_dir)
                self.add(EVENTS, day, analysis.events, upgrade.aliases(analysis.events, since), analysis.lines)
            self.outcomes.append((capture, analysis.events, None, analysis.warnings))
            return
        reject = reject_record(capture, reason)
        self.add(REJECTS, day, [reject], None, None)
        self.outcomes.append((capture, [], reject, []))

    def write(self) -> set[int]:
        """Write every group; return the identities (``id()``) of the records written now."""
        keys = list(self.groups)
        groups = [(kind, day, *self.groups[(kind, day)]) for kind, day in keys]
        written = ledger.write_groups(self.settings, [group for group in groups if group[2]]) if groups else []
        return {id(record) for records in written for record in records}


def summarise(
    outcome: tuple[Any, list[dict[str, Any]], dict[str, Any] | None, list[str]], fresh: set[int]
) -> dict[str, Any]:
    """Return what was written of one capture, JSON-safe."""
    capture, events, reject, warnings = outcome
    capture_id = capture.get("id") if isinstance(capture, dict) else None
    if reject is not None:
        summary: dict[str, Any] = {"capture_id": capture_id, "events": 0, "rejected": True, "reason": reject["reason"]}
        if id(reject) not in fresh:
            summary["duplicate"] = True  # rejected before, on this host
        return summary
    written = sum(1 for event in events if id(event) in fresh)
    summary = {"capture_id": capture_id, "events": written, "warnings": unique(warnings)}
    if written < len(events):
        summary["duplicates"] = len(events) - written
    return summary


def run(settings: Settings, items: list[Any]) -> list[dict[str, Any]]:
    """Process the captures of ``items`` and return a summary of each."""
    batch = Batch(settings, [as_capture(item) for item in items])
    fresh = batch.write()
    connection = queueing.running_job_connection()
    outcomes = batch.outcomes
    tally.count_events(
        connection, settings.queue, [e for _, events, _, _ in outcomes for e in events if id(e) in fresh]
    )
    tally.count_rejects(connection, settings.queue, [r["reason"] for _, _, r, _ in outcomes if r and id(r) in fresh])
    summaries = [summarise(outcome, fresh) for outcome in outcomes]
    if settings.routes_path:
        from jobs.routing.deliver import route_capture

        routing = queueing.job_connection(settings)
        for summary, (_, events, _, _) in zip(summaries, outcomes):
            if events:
                # All events, not only the fresh ones: a retry after a crash must still route what it wrote before.
                # Routing queues nothing twice (job ids) and delivers nothing twice (routing.state).
                summary["routed"] = route_capture(settings, routing, str(summary["capture_id"]), events)
    return summaries


def hold(settings: Settings, items: list[Any]) -> None:
    """Keep the keys naming this job as each capture's for as long as RQ keeps the job (``queues.hold_captures``)."""
    connection = queueing.running_job_connection()
    ids = [capture_id for capture_id in map(item_id, items) if capture_id is not None]
    if connection is not None and ids:
        queueing.hold_captures(connection, settings.queue, ids, queueing.held_for(settings, len(items)))


def process_batch(items: Any) -> dict[str, Any]:
    """Process one job of captures (lines or records) and return a JSON-safe summary of what was written."""
    settings = current()
    items = items if isinstance(items, list) else [items]
    hold(settings, items)
    summaries = run(settings, items)
    return {
        "captures": len(summaries),
        "events": sum(summary["events"] for summary in summaries),
        "duplicates": sum(summary.get("duplicates", 0) for summary in summaries),
        "rejected": sum(1 for summary in summaries if summary.get("rejected")),
        "summaries": summaries,  # each capture's, in the job's order: `failed show` and the tests read them
    }


def process_capture(capture: Any) -> dict[str, Any]:
    """Process one capture record and return a JSON-safe summary of what was written (jobs of older versions)."""
    return run(current(), [capture])[0]
