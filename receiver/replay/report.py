"""What a replay says: a line per capture, JSON lines, the closing summary and why it stopped.

The library decides what to say; the caller's ``Output`` decides how to print
it (the command line escapes every line and writes JSON with ``json_text``).
Failures always get a line; every capture does with ``--verbose``, ``--json``
or a dry run; none does with ``--quiet``. The summary is always printed.

Failure policy: a record whose fields are odd (a size that is not a number)
is shown as it is, never raised for; an error of the output itself (a closed
pipe) reaches the caller.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from receiver.replay.choices import ReplayOptions
from receiver.replay.targets import ERROR, OK, STATUS
from receiver.store.files import Record

DRY_RUN = "dry-run"
WARNING = "warning: "
SIZE_WIDTH = 8


class LineWriter(Protocol):
    """Print one line of text, on stderr when ``err``."""

    def __call__(self, text: str, err: bool = False) -> None: ...


@dataclass(frozen=True)
class Output:
    """Where a replay's messages go: ``line`` for text, ``record`` for one JSON line."""

    line: LineWriter
    record: Callable[[Any], None]

    def warn(self, text: str) -> None:
        """Print ``warning: text`` on stderr."""
        self.line(WARNING + text, err=True)


@dataclass
class Outcomes:
    """What a replay did: counts by outcome, results of delivered captures, other statuses, and why it stopped."""

    counts: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)  # result of each delivered capture: 200, enqueued...
    statuses: Counter[str] = field(default_factory=Counter)  # HTTP status of each capture not delivered
    stopped: str | None = None
    interrupted: bool = False

    @property
    def failed(self) -> int:
        """Return how many captures were not delivered."""
        return self.counts[STATUS] + self.counts[ERROR]


def wants_line(options: ReplayOptions, kind: str) -> bool:
    """Say whether a capture whose outcome is ``kind`` gets a line of its own."""
    if options.quiet:
        return False
    return options.verbose or options.as_json or options.dry_run or kind not in (OK, DRY_RUN)


def item_line(output: Output, options: ReplayOptions, record: Record, kind: str, detail: str) -> None:
    """Print one capture's line: id, time, size and result (a JSON object with ``--json``)."""
    if options.as_json:
        output.record(
            {
                "id": record["id"],
                "received_at": record["received_at"],
                "source": record.get("source"),
                "size": record.get("size"),
                "content_type": record.get("content_type"),
                "outcome": kind,
                "result": detail,
            }
        )
        return
    size = record.get("size") or 0
    size = f"{size:>{SIZE_WIDTH}}" if isinstance(size, int) else size  # a hand-made record may hold anything
    output.line(f"{record['id']}  {record['received_at']}  {size} B  {detail}")


def summary(output: Output, options: ReplayOptions, tally: Outcomes, where: str) -> None:
    """Print the closing summary (also with ``--quiet``), and how to continue after a failure."""
    if options.as_json:
        output.record({"summary": summary_fields(options, tally, where)})
    elif options.dry_run:
        would = tally.counts["would"]
        output.line(f"dry run: {would} captures would be sent to {where}{skipped(options, tally)}; nothing was sent")
    else:
        text_summary(output, options, tally, where)


def summary_fields(options: ReplayOptions, tally: Outcomes, where: str) -> dict[str, Any]:
    """Return the summary as a JSON object's fields."""
    return {
        "target": where,
        "dry_run": options.dry_run,
        "would_send": tally.counts["would"],
        "sent": tally.counts["sent"],
        "ok": tally.counts[OK],
        "results": dict(tally.details),
        "other_status": dict(tally.statuses),
        "errors": tally.counts[ERROR],
        "skipped": tally.counts["skipped"],
        "stopped": tally.stopped,
        "interrupted": tally.interrupted,
    }


def skipped(options: ReplayOptions, tally: Outcomes) -> str:
    """Return the summary's note on captures skipped as already delivered, or nothing."""
    if not tally.counts["skipped"]:
        return ""
    return f"; skipped {tally.counts['skipped']} already delivered ({options.state_path})"


def text_summary(output: Output, options: ReplayOptions, tally: Outcomes, where: str) -> None:
    """Print the summary of a replay that sent: counts on stdout, why it stopped and how to go on on stderr."""
    statuses = ", ".join(f"{code}×{count}" for code, count in sorted(tally.statuses.items()))
    oks = ", ".join(f"{name}×{count}" for name, count in sorted(tally.details.items()))
    output.line(
        f"sent {tally.counts['sent']} to {where}: ok {tally.counts[OK]}"
        + (f" ({oks})" if oks else "")
        + f", other status {tally.counts[STATUS]}"
        + (f" ({statuses})" if statuses else "")
        + f", connection errors {tally.counts[ERROR]}{skipped(options, tally)}"
    )
    if tally.stopped:
        output.line(f"stopped after {tally.stopped}", err=True)
    if tally.interrupted:
        output.line("interrupted", err=True)
    if (tally.stopped or tally.interrupted or tally.failed) and options.state_path:
        output.line(f"to continue, run the same command again with --resume {options.state_path}", err=True)
