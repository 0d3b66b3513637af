"""``smartech-dumper prune`` and ``compress``: keep the PII on disk small and short-lived.

Both work on whole days of all three kinds (captures, events, rejects); a
file's day is its name. Neither touches today, nor a day the receiver may
still append to (until ``layout.WRITE_GRACE`` after its midnight), nor a
captures day the forwarder has not yet handed to the queue in full; without a
saved cursor, no captures day counts as handed over.
"""

import os
from datetime import timedelta

import click

from receiver.core import layout
from receiver.core.layout import KINDS
from receiver.forwarder import cursor
from receiver.ops.gzday import compress as compress_file
from receiver.store.files import DataFileError, day_files
from receiver.store.text import human_size
from receiver.store.timeexpr import parse_time, utc_now
from scripts.view.options import TIME, data_dir_option


def last_closed_day(now):
    """Return the newest day that is closed: over for longer than the receiver's grace period."""
    return (now - timedelta(days=1, seconds=layout.WRITE_GRACE)).date().isoformat()


def unforwarded(data_dir, kind, day):
    """Say whether captures of ``day`` may still wait for the forwarder."""
    if kind != layout.CAPTURES:
        return False
    saved = cursor.load(data_dir)
    return saved is None or day >= saved.day


def candidates(data_dir, last_day, gzipped):
    """Yield ``(kind, DayFile, note)`` for files up to ``last_day``; ``note`` says why one is kept."""
    for kind in KINDS:
        for item in day_files(data_dir, kind, last_day=last_day, gzipped=gzipped):
            note = (
                "the forwarder has not handed all of it to the queue (see smartech-dumper forward)"
                if unforwarded(data_dir, kind, item.day)
                else None
            )
            yield kind, item, note


def files_text(count):
    """Return ``count`` with the word file, singular or plural."""
    return f"{count} file{'' if count == 1 else 's'}"


def relative(data_dir, path):
    """Return ``path`` relative to the data dir, for messages."""
    return os.path.relpath(path, data_dir)


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
def prune(data_dir, older_than, dry_run):
    """Delete whole days of captures, events and rejects older than AGE."""
    now = utc_now()
    cutoff = parse_time(older_than, now)
    if cutoff > now:
        raise click.BadParameter("must be in the past", param_hint="--older-than")
    last_day = min((cutoff.date() - timedelta(days=1)).isoformat(), last_closed_day(now))
    verb = "would delete" if dry_run else "deleted"
    files = total = 0
    try:
        for _kind, item, note in candidates(data_dir, last_day, gzipped=True):
            if note:
                click.echo(f"kept {relative(data_dir, item.path)}: {note}")
                continue
            size = os.path.getsize(item.path)
            if not dry_run:
                os.unlink(item.path)
            click.echo(f"{verb} {relative(data_dir, item.path)} ({human_size(size)})")
            files, total = files + 1, total + size
    except (OSError, DataFileError) as exc:
        raise click.ClickException(f"cannot prune: {exc}") from None
    click.echo(
        f"{verb} {files_text(files)} ({human_size(total)}) of days up to {last_day}"
        + ("; nothing was deleted" if dry_run else "")
    )


@click.command()
@data_dir_option
@click.option("--dry-run", is_flag=True, help="Print what would be compressed; change nothing.")
def compress(data_dir, dry_run):
    """Gzip every closed day of captures, events and rejects to .jsonl.gz."""
    last_day = last_closed_day(utc_now())
    files, before, after = 0, 0, 0
    try:
        for _kind, item, note in candidates(data_dir, last_day, gzipped=False):
            name = relative(data_dir, item.path)
            if note:
                click.echo(f"kept {name}: {note}")
                continue
            size = os.path.getsize(item.path)
            if dry_run:
                click.echo(f"would compress {name} ({human_size(size)})")
            else:
                packed = compress_file(item.path)
                click.echo(f"compressed {name} ({human_size(size)} -> {human_size(packed)})")
                after += packed
            files, before = files + 1, before + size
    except (OSError, DataFileError) as exc:
        raise click.ClickException(f"cannot compress: {exc}") from None
    if dry_run:
        click.echo(f"would compress {files_text(files)} ({human_size(before)}) of days up to {last_day}")
    else:
        click.echo(
            f"compressed {files_text(files)} of days up to {last_day}: {human_size(before)} -> {human_size(after)}"
        )
