"""``smartech-dumper forget --customer ID``: erase one customer from the data dir, the indexes, Redis and the sql sinks.

The work is the library's (``receiver.ops.forget``, ``jobs.routing.erase``);
this module asks for confirmation, prints what changed (or would, with
``--dry-run``), per file and sink, and appends the erasure record.

Failure policy: an error is one line (exit 1) naming what was not done; every
step can run again, so running the same command again finishes the work.
"""

import dataclasses
import sqlite3

import click

from jobs.routing.erase import forget_rows
from receiver.core import queues
from receiver.core.queues import REDIS_ERRORS
from receiver.ops.forget import ForgetReport, forget, record
from receiver.routes.config import RoutesError
from receiver.store.masking import Mask
from receiver.store.safetext import escape
from scripts.errors import load_settings
from scripts.view.options import data_dir_option
from scripts.view.output import json_line


def print_report(report: ForgetReport, dry_run: bool) -> None:
    """Print what changed (or would) per file, index, Redis and sink; no id or value of the customer."""
    verb = "would blank" if dry_run else "blanked"
    for path, lines in sorted(report.files.items()):
        click.echo(escape(f"{verb} {lines} line{'s' if lines != 1 else ''} in {path}"))
    click.echo(f"timeline index: {report.timeline_rows} rows; ledger: {report.ledger_rows} content hashes")
    click.echo(f"redis: {report.jobs} jobs, {report.results} results")
    for sink, rows in sorted(report.sinks.items()):
        click.echo(escape(f"sql sink {sink}: {rows} rows"))
    counts = report.counts()
    what = "would erase" if dry_run else "erased"
    click.echo(
        f"{what} {counts['lines']} lines in {counts['files']} files, {len(report.customer.ids)} ids of this customer"
    )


@click.command("forget")
@click.option("--customer", "customer_id", required=True, metavar="ID", help="A foreignkey, an identity or an e-mail.")
@data_dir_option
@click.option("--dry-run", is_flag=True, help="Only say what would change, per file and sink.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget_command(customer_id: str, data_dir: str, dry_run: bool, yes: bool) -> None:
    """Erase one customer everywhere: data files (.jsonl and .gz), quarantine, indexes, Redis jobs, sql sinks."""
    settings = dataclasses.replace(load_settings(), data_dir=data_dir)
    if not (dry_run or yes or click.confirm("Erase this customer's data for good?", default=False)):
        raise click.ClickException("nothing erased")
    mask = Mask(settings.mask_fields or ("foreignkey", "identity"))
    try:
        report = forget(data_dir, customer_id, mask, queues.connect(settings), dry_run)
        report.sinks = forget_rows(settings.routes_path, data_dir, report.customer.ids, dry_run)
    except REDIS_ERRORS as exc:
        raise click.ClickException(escape(f"Redis: {exc}: the files are done; run it again to finish")) from None
    except (OSError, sqlite3.Error, RoutesError) as exc:
        raise click.ClickException(escape(f"{exc}: run it again to finish")) from None
    print_report(report, dry_run)
    if not dry_run:
        json_line({"erasure": record(data_dir, customer_id, report)})
