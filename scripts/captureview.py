"""Render one capture: a table row or a JSON line for ``list``/``tail``, a full view for ``show``."""
import click

from receiver.capture import body_bytes

from .filters import OK, REJECTED, WARNINGS
from .output import Table, human_size, json_line, paint, pretty_json, short_time

COLUMNS = [("RECEIVED (UTC)", 19), ("ID", 26), ("SOURCE", 10), ("USER", 10), ("PANEL", 16),
           ("WEBHOOK", 28), ("EVENTS", 6), ("SIZE", 9), ("STATUS", 0)]
STATUS_COLUMN = len(COLUMNS) - 1
STATUS_COLOURS = {OK: "green", WARNINGS: "yellow", REJECTED: "red"}
RECORD_FIELDS = ("id", "received_at", "source", "user", "remote_addr", "method", "path", "content_type", "size")
EVENT_OMITTED = ("raw",)
NONE = "-"


def summary(record, analysis):
    """Return the JSON-safe one-line summary of a capture."""
    return {
        "id": record["id"], "received_at": record["received_at"], "source": record.get("source"),
        "user": record.get("user"), "remote_addr": record.get("remote_addr"),
        "content_type": record.get("content_type"), "size": record.get("size"),
        "panels": analysis.distinct("panel"), "webhook_names": analysis.distinct("webhook_name"),
        "channels": analysis.distinct("channel"), "activities": analysis.distinct("activity"),
        "foreignkeys": analysis.distinct("foreignkey"), "events": len(analysis.events),
        "status": analysis.status, "reason": analysis.reason, "warnings": analysis.warnings,
    }


def status_text(analysis):
    """Return the status cell: ok, the first warning, or the reject reason."""
    if analysis.reason:
        return f"rejected: {analysis.reason}"
    if analysis.warnings:
        more = f" (+{len(analysis.warnings) - 1} more)" if len(analysis.warnings) > 1 else ""
        return f"warning: {analysis.warnings[0]}{more}"
    return OK


class CaptureLines:
    """Print captures one per line, as a table or as JSON lines."""

    def __init__(self, as_json):
        self.as_json = as_json
        self.table = None if as_json else Table(COLUMNS)
        self.count = 0

    def add(self, record, analysis):
        """Print one capture (and the header before the first)."""
        if self.as_json:
            json_line(summary(record, analysis))
        else:
            if self.count == 0:
                self.table.header()
            self.table.row(self.cells(record, analysis), {STATUS_COLUMN: STATUS_COLOURS[analysis.status]})
        self.count += 1

    @staticmethod
    def cells(record, analysis):
        """Return the table cells of one capture."""
        return [short_time(record["received_at"]), record["id"], record.get("source") or NONE,
                record.get("user") or NONE, ",".join(analysis.distinct("panel")) or NONE,
                ",".join(analysis.distinct("webhook_name")) or NONE, len(analysis.events),
                human_size(record.get("size")), status_text(analysis)]


def show_json(record, analysis):
    """Print everything about one capture as a single JSON line."""
    json_line({"capture": record, "payload": analysis.value, "events": analysis.events,
               "warnings": analysis.warnings, "status": analysis.status, "reason": analysis.reason})


def show_text(record, analysis, raw=False, colour=False):
    """Print one capture for a person: its metadata, payload, warnings and events."""
    def heading(text):
        click.echo(paint(text, bold=True, enabled=colour), color=colour)

    heading(f"capture {record['id']}")
    for name in RECORD_FIELDS[1:]:
        click.echo(f"  {name + ':':<14}{record.get(name) if record.get(name) is not None else NONE}")
    if record.get("body_encoding"):
        click.echo(f"  {'body_encoding:':<14}{record['body_encoding']} (the body is not UTF-8)")
    status = paint(analysis.status, STATUS_COLOURS[analysis.status], enabled=colour)
    click.echo(f"  {'status:':<14}{status}", color=colour)
    if analysis.reason:
        heading("\nrejected")
        click.echo(f"  {analysis.reason}")
    if analysis.warnings:
        heading("\nwarnings")
        for warning in analysis.warnings:
            click.echo(f"  - {warning}")
    if raw or analysis.reason:
        heading("\nbody as received")
        click.echo(body_bytes(record).decode("utf-8", "replace"))
    if not analysis.reason:
        heading("\npayload (decoded)")
        click.echo(pretty_json(analysis.value))
        heading(f"\nevents ({len(analysis.events)}; 'raw' omitted: it is the payload above)")
        for event in analysis.events:
            click.echo(pretty_json({k: v for k, v in event.items() if k not in EVENT_OMITTED}))
