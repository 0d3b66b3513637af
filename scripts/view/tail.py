"""``smartech-dumper tail``, ``show`` and ``list``: look at what Smartech sent.

All three read the captures files (``.jsonl`` and ``.jsonl.gz``) one record at
a time and decode each capture with the worker's own code, so what they show
is what the worker makes of it, whether or not a worker has run yet.
"""
import sys
from collections import deque

import click

from receiver.capture import body_bytes

from .captureview import CaptureLines, capture_name, show_json, show_text
from receiver.store.filters import Analysis
from receiver.store.follow import Follower
from .output import colour_enabled, describe_error
from .safetext import escape
from receiver.store.select import (capture_reader, clear_errors, data_dir_option, filter_options, find_capture,
                        matching, normal_id, select)

DEFAULT_TAIL_LINES = 10
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines (for jq) instead of a table.")


def last_matching(follower, filters, count):
    """Return the last ``count`` matching captures: from the live files, then older ones if needed."""
    latest = deque(matching(follower.poll(), filters, limit=False), maxlen=count)
    for path in follower.older():
        if len(latest) >= count:
            break
        earlier = deque(matching(follower.reader.records(path), filters, limit=False), maxlen=count - len(latest))
        latest.extendleft(reversed(earlier))
    return latest


@click.command()
@data_dir_option
@filter_options(window=False, limit=False)
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=DEFAULT_TAIL_LINES, show_default=True, metavar="N",
              help="How many of the latest captures to show first.")
@click.option("-f", "--follow", is_flag=True, help="Keep running and show each new capture as it arrives "
              "(also across midnight, when the receiver starts a new day file). Ctrl-C stops.")
@json_option
def tail(data_dir, filters, count, follow, as_json):
    """Show the latest captures, one line each; -f follows new ones as they arrive."""
    reader = capture_reader()
    follower = Follower(data_dir, reader)
    out = CaptureLines(as_json)
    with clear_errors():
        if count:
            for record, analysis in last_matching(follower, filters, count):
                out.add(record, analysis)
        else:
            for _ in follower.poll():  # -n 0: start following from the end, showing nothing old
                pass
        if not follow:
            reader.report()
            return
        try:
            for record, analysis in matching(follower.follow(), filters, limit=False):
                out.add(record, analysis)
        except KeyboardInterrupt:
            reader.report()


def write_body_bytes(record, force):
    """Write the capture's exact body bytes to stdout; refuse a terminal unless ``force``."""
    if sys.stdout.isatty() and not force:
        raise click.ClickException("refusing to write the raw body bytes to a terminal: they may hold escape "
                                   "sequences that take it over. Redirect stdout to a file or a pipe "
                                   "(show ID --raw-bytes > body.bin), or add --force to write them anyway.")
    sys.stdout.flush()  # anything already written as text goes first
    # The buffer, not click.echo: bytes that are not UTF-8 must go out exactly as Smartech sent them.
    sys.stdout.buffer.write(body_bytes(record))
    sys.stdout.buffer.flush()


@click.command()
@click.argument("capture_id", metavar="ID")
@data_dir_option
@click.option("--raw", is_flag=True, help="Also print the body as received (unsafe characters escaped).")
@click.option("--raw-bytes", is_flag=True, help="Print only the body's exact bytes, unescaped, for a file "
              "or a pipe (show ID --raw-bytes > body.bin); refused on a terminal without --force.")
@click.option("--force", is_flag=True, help="With --raw-bytes: write the bytes even when stdout is a terminal.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: capture, payload, events, warnings.")
def show(capture_id, data_dir, raw, raw_bytes, force, as_json):
    """Show one capture: decoded payload, normalised events and parse warnings."""
    if force and not raw_bytes:
        raise click.UsageError("--force goes with --raw-bytes")
    if raw_bytes and (raw or as_json):
        raise click.UsageError("--raw-bytes prints the body alone: it does not go with --raw or --json")
    capture_id = normal_id(capture_id)
    with clear_errors():
        record = find_capture(data_dir, capture_id, capture_reader())
        try:
            if raw_bytes:
                write_body_bytes(record, force)
            elif as_json:
                show_json(record, Analysis(record))
            else:
                show_text(record, Analysis(record), raw=raw, colour=colour_enabled())
        except (OSError, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - a hostile capture ends in one line, never a traceback
            message = f"cannot show {capture_name(record)}: {describe_error(exc)}"
            raise click.ClickException(escape(message)) from None


LIST_EPILOG = """\b
Examples:
  smartech-dumper list --since yesterday --until today --foreignkey 9999999997
  smartech-dumper list --since 2h --channel sms --activity click
  smartech-dumper list --rejects-only --json | jq -r .id
"""


@click.command("list", epilog=LIST_EPILOG)
@data_dir_option
@filter_options()
@json_option
def list_captures(data_dir, filters, as_json):
    """List the captures that match the filters, oldest first."""
    reader = capture_reader()
    out = CaptureLines(as_json)
    with clear_errors():
        for record, analysis in select(data_dir, filters, reader):
            out.add(record, analysis)
    reader.report()
    if out.count == 0 and not as_json:
        click.echo("no captures match", err=True)
