"""``smartech-dumper customer ID``: one customer's events across the retention window, newest first.

The timeline is the library's (``receiver.ops.timelines``, over the index
``receiver.ledger.timeline`` keeps); this module prints it as a table or JSON
lines. The customer's id is shown masked unless ``--unmask``.

Failure policy: an unreadable file or index is one error line (exit 1); a
Redis that does not answer only makes the routing "unknown".
"""

import dataclasses
import sqlite3

import click

from receiver.core import queues
from receiver.ops.timelines import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, customer_page
from receiver.store.masking import Mask
from receiver.store.safetext import escape
from scripts.errors import load_settings
from scripts.view.options import data_dir_option, json_option, mask_option
from scripts.view.output import Table, json_line, short_time

COLUMNS = [("RECEIVED (UTC)", 19), ("CHANNEL", 16), ("ACTIVITY", 11), ("JOURNEY", 24), ("WEBHOOK", 22)]
COLUMNS += [("CAPTURE", 26), ("ROUTED", 0)]


@click.command()
@click.argument("customer", metavar="ID")
@data_dir_option
@click.option(
    "--limit", type=click.IntRange(1, MAX_PAGE_SIZE), default=DEFAULT_PAGE_SIZE, show_default=True, metavar="N"
)
@click.option("--before", metavar="TOKEN", help="Start after this event: the token the previous page ended with.")
@json_option
@mask_option
def customer(customer: str, data_dir: str, limit: int, before: str | None, as_json: bool, mask: Mask | None) -> None:
    """Show one customer's events, newest first: ID is a foreignkey, an identity or an Email API EMAIL."""
    settings = dataclasses.replace(load_settings(), data_dir=data_dir)
    try:
        page = customer_page(settings, queues.connect(settings), customer, limit, before, mask)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(escape(f"cannot read the timeline of {data_dir}: {exc}")) from None
    if as_json:
        for event in page.events:
            json_line(event)
        json_line({"customer": page.customer, "events": len(page.events), "next": page.next})
        return
    click.echo(escape(f"customer {page.customer}: {len(page.events)} events, newest first"))
    table = Table(COLUMNS)
    table.header()
    for event in page.events:
        names = ("channel", "activity", "journey", "webhook_name", "capture_id", "routed")
        table.row([short_time(event["received_at"]), *(event[name] or "-" for name in names)])
    if page.next:
        click.echo(escape(f"more: smartech-dumper customer ID --before '{page.next}'"))
