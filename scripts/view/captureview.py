"""Render one capture: a table row or a JSON line for ``list``/``tail``, a full view for ``show``.

Every value shown comes from the capture file and its payload, so every value
is escaped (``safetext``); the fields of DUMPER_MASK_FIELDS are masked unless
``--unmask`` (``receiver.store.masking``).

Failure policy: a capture that still cannot be rendered becomes a warning on
stderr and the listing carries on; ``show_text`` lets the error through (after
the body as received), for ``show`` to end with one line.
"""

import click

from receiver.store.bodies import shown_body
from receiver.store.files import Record
from receiver.store.masking import Mask, masked_pair
from receiver.store.reading import OK, REJECTED, WARNINGS, Reading
from receiver.store.safetext import escape
from receiver.store.summary import capture_name, full_view, status_text, summary
from receiver.store.text import human_size
from scripts.view.output import Table, each_item, echo_block, echo_line, json_line, paint, pretty_json, short_time

COLUMNS = [
    ("RECEIVED (UTC)", 19),
    ("ID", 26),
    ("SOURCE", 10),
    ("USER", 10),
    ("PANEL", 16),
    ("WEBHOOK", 28),
    ("EVENTS", 6),
    ("SIZE", 9),
    ("STATUS", 0),
]
STATUS_COLUMN = len(COLUMNS) - 1
STATUS_COLOURS = {OK: "green", WARNINGS: "yellow", REJECTED: "red"}
RECORD_FIELDS = ("id", "received_at", "source", "user", "remote_addr", "method", "path", "content_type", "size")
EVENT_OMITTED = ("raw",)
NONE = "-"


class CaptureLines:
    """Print captures one per line, as a table or as JSON lines."""

    def __init__(self, as_json: bool, mask: Mask | None = None) -> None:
        self.as_json = as_json
        self.mask = mask
        self.table = None if as_json else Table(COLUMNS)
        self.count = 0

    def add(self, record: Record, analysis: Reading) -> None:
        """Print one capture (and the header before the first), or a warning when it cannot be shown."""
        with each_item(capture_name(record)):
            record, analysis = masked_pair(record, analysis, self.mask)
            if self.table is None:
                json_line(summary(record, analysis))
            else:
                cells, colour = self.cells(record, analysis), STATUS_COLOURS[analysis.status]
                if self.count == 0:
                    self.table.header()
                self.table.row(cells, {STATUS_COLUMN: colour})
            self.count += 1

    @staticmethod
    def cells(record: Record, analysis: Reading) -> list[object]:
        """Return the table cells of one capture."""
        return [
            short_time(record["received_at"]),
            record["id"],
            record.get("source") or NONE,
            record.get("user") or NONE,
            ",".join(analysis.distinct("panel")) or NONE,
            ",".join(analysis.distinct("webhook_name")) or NONE,
            analysis.event_count,
            human_size(record.get("size")),
            status_text(analysis),
        ]


def show_json(record: Record, analysis: Reading) -> None:
    """Print everything about one capture as a single JSON line."""
    json_line(full_view(record, analysis))


def show_text(record: Record, analysis: Reading, raw: bool = False, colour: bool = False) -> None:
    """Print one capture for a person: its metadata, payload, warnings and events, all escaped."""

    def heading(title: str, gap: bool = True) -> None:
        click.echo(("\n" if gap else "") + paint(escape(title), bold=True, enabled=colour), color=colour)

    heading(f"capture {record['id']}", gap=False)
    for name in RECORD_FIELDS[1:]:
        echo_line(f"  {name + ':':<14}{record.get(name) if record.get(name) is not None else NONE}")
    if record.get("body_encoding"):
        echo_line(f"  {'body_encoding:':<14}{record['body_encoding']} (the body is not UTF-8)")
    try:
        status = analysis.status
    except Exception:
        heading("body as received")  # what the analysis choked on is what the reader needs to see
        echo_block(shown_body(record))
        raise
    click.echo(f"  {'status:':<14}{paint(status, STATUS_COLOURS[status], enabled=colour)}", color=colour)
    if analysis.reason:
        heading("rejected")
        echo_line(f"  {analysis.reason}")
    if analysis.warnings:
        heading("warnings")
        for warning in analysis.warnings:
            echo_line(f"  - {warning}")
    if raw or analysis.reason:
        heading("body as received")
        echo_block(shown_body(record))
    if not analysis.reason:
        heading("payload (decoded)")
        click.echo(pretty_json(analysis.value))
        heading(f"events ({len(analysis.events)}; 'raw' omitted: it is the payload above)")
        for event, fate in zip(analysis.events, analysis.fates):
            echo_line(f"  event {event['event_id']}: {fate.text()}")
            click.echo(pretty_json({k: v for k, v in event.items() if k not in EVENT_OMITTED}))
