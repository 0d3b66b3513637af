"""``smartech-dumper prune`` and ``compress``: keep the PII on disk small and short-lived.

What they select and do is ``receiver.ops.retention``'s; this module prints
each file as it is handled, then the totals.

Failure policy: a bad ``--older-than`` is a usage error (exit 2); a file
that cannot be read, deleted or compressed ends the command with one line
(exit 1), what was done before it staying done.
"""

import click

from receiver.ops import retention
from receiver.ops.retention import TidyTotals
from receiver.store.files import DataFileError
from receiver.store.text import human_size
from receiver.store.timeexpr import parse_time, utc_now
from scripts.errors import library_errors
from scripts.view.options import TIME, data_dir_option

TIDY_ERRORS = (OSError, DataFileError)


def files_text(count: int) -> str:
    """Return ``count`` with the word file, singular or plural."""
    return f"{count} file{'' if count == 1 else 's'}"


@click.command()
@data_dir_option
@click.option(
    "--older-than",
    "older_than",
    type=TIME,
    required=True,
    metavar="AGE",
    help="Delete days that ended before this: an age (30d, 12w) or a date (2026-10-01).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
def prune(data_dir: str, older_than: str, dry_run: bool) -> None:
    """Delete whole days of captures, events and rejects older than AGE."""
    now = utc_now()
    try:
        last_day = retention.last_prunable_day(parse_time(older_than, now), now)
    except retention.FutureCutoff as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    verb = "would delete" if dry_run else "deleted"
    totals = TidyTotals()
    with library_errors(*TIDY_ERRORS, prefix="cannot prune: "):
        for item in retention.prune(data_dir, last_day, dry_run):
            if item.kept:
                click.echo(f"kept {item.name}: {item.kept}")
                continue
            click.echo(f"{verb} {item.name} ({human_size(item.size)})")
            totals.add(item)
    click.echo(
        f"{verb} {files_text(totals.files)} ({human_size(totals.before)}) of days up to {last_day}"
        + ("; nothing was deleted" if dry_run else "")
    )


@click.command()
@data_dir_option
@click.option("--dry-run", is_flag=True, help="Print what would be compressed; change nothing.")
def compress(data_dir: str, dry_run: bool) -> None:
    """Gzip every closed day of captures, events and rejects to .jsonl.gz."""
    last_day = retention.last_closed_day(utc_now())
    totals = TidyTotals()
    with library_errors(*TIDY_ERRORS, prefix="cannot compress: "):
        for item in retention.compress(data_dir, last_day, dry_run):
            if item.kept:
                click.echo(f"kept {item.name}: {item.kept}")
                continue
            if dry_run or item.packed is None:
                click.echo(f"would compress {item.name} ({human_size(item.size)})")
            else:
                click.echo(f"compressed {item.name} ({human_size(item.size)} -> {human_size(item.packed)})")
            totals.add(item)
    if dry_run:
        click.echo(f"would compress {files_text(totals.files)} ({human_size(totals.before)}) of days up to {last_day}")
    else:
        click.echo(
            f"compressed {files_text(totals.files)} of days up to {last_day}: "
            f"{human_size(totals.before)} -> {human_size(totals.after)}"
        )
