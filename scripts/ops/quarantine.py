"""``smartech-dumper quarantine list|show|release|drop``: look at the posts refused for their credentials.

A thin shell over ``receiver.ops.quarantine`` (what is kept) and
``receiver.ops.handover`` (a release: the post becomes a capture, exactly
once). Everything printed comes from a client: it is escaped (``safetext``).

Failure policy: an unknown id, an unreadable file or a bad setting ends the
command with one escaped line and a non-zero exit, never a traceback; with
several ids, each is tried and the command fails at the end if any failed.
"""

import os
from collections.abc import Callable, Iterable

import click

from receiver.ops import handover, quarantine
from receiver.store.text import human_size
from scripts.errors import library_errors, load_settings
from scripts.view.options import data_dir_option
from scripts.view.output import Table, echo_block, echo_line, fit, json_line

COLUMNS = [("ID", 26), ("RECEIVED", 24), ("FROM", 16), ("SOURCE", 12), ("SIZE", 8), ("STATE", 0)]
SHOWN: tuple[str, ...] = ("id", "received_at", "remote_addr", "source", "method", "path", "query", "content_type")
SHOWN += ("reason", "size", "releasing_as", "released_as", "released_at")


def summary(entry: quarantine.KeptPost, header: dict[str, object]) -> dict[str, object]:
    """Return what ``list --json`` prints of one entry: never its body."""
    return {"id": entry.id, **{name: header.get(name) for name in SHOWN[1:]}, "file_bytes": entry.size}


def each_entry(data_dir: str, ids: Iterable[str], every: bool, action: Callable[[str], None], what: str) -> None:
    """Run ``action`` on each id (or every entry not yet released); fail at the end if any failed."""
    if bool(tuple(ids)) == every:
        raise click.UsageError("give one or more IDs, or --all")
    chosen = [entry.id for entry in quarantine.entries(data_dir) if not entry.released] if every else list(ids)
    failures = 0
    for entry_id in chosen:
        try:
            action(entry_id)
        except (quarantine.UnknownEntry, OSError) as exc:
            echo_line(f"cannot {what} {entry_id}: {exc}", err=True)
            failures += 1
    if every and not chosen:
        echo_line(f"nothing to {what}: no post waits in {os.path.join(data_dir, 'quarantine')}", err=True)
    if failures:
        raise SystemExit(1)


@click.group("quarantine")
def quarantine_group() -> None:
    """Look at posts refused for their credentials, then release them (each becomes a capture, once) or drop them."""


@quarantine_group.command("list")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object a line (with its id), for jq.")
def list_entries(data_dir: str, as_json: bool) -> None:
    """List the refused posts kept, oldest first: when, from where, to which source, whether released."""
    table = Table(COLUMNS)
    if not as_json:
        table.header()
    for entry in quarantine.entries(data_dir):
        try:
            header, _ = quarantine.read_record(data_dir, entry.id)
        except (quarantine.UnknownEntry, OSError) as exc:
            echo_line(f"warning: {entry.id}: cannot read it ({exc}); skipped", err=True)
            continue
        if as_json:
            json_line(summary(entry, header))
            continue
        state = f"released as {header.get('released_as')}" if header.get("released_as") else "waiting"
        sent = [header.get("received_at"), header.get("remote_addr"), header.get("source")]
        table.row([entry.id, *sent, human_size(header.get("size")), state])


@quarantine_group.command("show")
@data_dir_option
@click.argument("entry_id", metavar="ID")
def show_entry(data_dir: str, entry_id: str) -> None:
    """Show one refused post: what was received (the Authorization header is never kept) and its body."""
    with library_errors(quarantine.UnknownEntry, OSError):
        header, body = quarantine.read_record(data_dir, entry_id)
    for name in SHOWN:
        if header.get(name) is not None:
            echo_line(f"{name + ':':<14}{header[name]}")
    echo_line("headers:")
    for pair in header.get("headers") or []:
        echo_line(f"  {fit(pair[0], 24).rstrip()}: {pair[1]}" if len(pair) == 2 else f"  {pair}")
    echo_line("body:")
    echo_block(body.decode("utf-8", errors="replace"))


@quarantine_group.command("release")
@data_dir_option
@click.argument("entry_ids", metavar="ID...", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Release every post not released yet.")
def release_entries(data_dir: str, entry_ids: tuple[str, ...], every: bool) -> None:
    """Hand refused posts to the normal path: each becomes a capture (new id, released_from), exactly once."""
    settings = load_settings({**os.environ, "DUMPER_DATA_DIR": data_dir})

    def release(entry_id: str) -> None:
        capture_id, now = handover.release(data_dir, entry_id, fsync=settings.fsync)
        if now:
            echo_line(f"released {entry_id} as capture {capture_id}")
        else:
            echo_line(f"{entry_id} was already released as capture {capture_id}: nothing done")

    each_entry(data_dir, entry_ids, every, release, "release")


@quarantine_group.command("drop")
@data_dir_option
@click.argument("entry_ids", metavar="ID...", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Drop every post not released yet.")
def drop_entries(data_dir: str, entry_ids: tuple[str, ...], every: bool) -> None:
    """Remove refused posts for good (never processed)."""

    def drop(entry_id: str) -> None:
        quarantine.drop(data_dir, entry_id)
        echo_line(f"dropped {entry_id}")

    each_entry(data_dir, entry_ids, every, drop, "drop")
