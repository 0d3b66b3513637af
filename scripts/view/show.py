"""``smartech-dumper show``: one capture, decoded with the worker's own code, for a person, ``jq`` or a file.

Failure policy: an unknown id or an unreadable file is one error line (exit
1); a hostile capture that cannot be shown is one error line too, never a
traceback; the raw body bytes are refused on a terminal unless forced.
The fields of DUMPER_MASK_FIELDS are masked, in the raw bytes too, unless ``--unmask``.
"""

import sys

import click

from receiver.capture.record import body_bytes
from receiver.store.files import Record
from receiver.store.masking import Mask, masked_pair
from receiver.store.reading import Reading
from receiver.store.safetext import escape
from receiver.store.select import capture_reader, find_capture
from receiver.store.summary import capture_name
from receiver.store.text import describe_error
from scripts.errors import reading_errors
from scripts.view.captureview import show_json, show_text
from scripts.view.options import data_dir_option, mask_option, normal_id
from scripts.view.output import colour_enabled, warn


def write_body_bytes(record: Record, force: bool) -> None:
    """Write the capture's exact body bytes to stdout; refuse a terminal unless ``force``."""
    if sys.stdout.isatty() and not force:
        raise click.ClickException(
            "refusing to write the raw body bytes to a terminal: they may hold escape "
            "sequences that take it over. Redirect stdout to a file or a pipe "
            "(show ID --raw-bytes > body.bin), or add --force to write them anyway."
        )
    sys.stdout.flush()  # anything already written as text goes first
    # The buffer, not click.echo: bytes that are not UTF-8 must go out exactly as Smartech sent them.
    sys.stdout.buffer.write(body_bytes(record))
    sys.stdout.buffer.flush()


@click.command()
@click.argument("capture_id", metavar="ID")
@data_dir_option
@click.option("--raw", is_flag=True, help="Also print the body as received (unsafe characters escaped).")
@click.option(
    "--raw-bytes",
    is_flag=True,
    help="Print only the body's exact bytes, unescaped, for a file "
    "or a pipe (show ID --raw-bytes > body.bin); refused on a terminal without --force.",
)
@click.option("--force", is_flag=True, help="With --raw-bytes: write the bytes even when stdout is a terminal.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: capture, payload, events, warnings.")
@mask_option
def show(
    capture_id: str, data_dir: str, raw: bool, raw_bytes: bool, force: bool, as_json: bool, mask: Mask | None
) -> None:
    """Show one capture: decoded payload, normalised events and parse warnings."""
    if force and not raw_bytes:
        raise click.UsageError("--force goes with --raw-bytes")
    if raw_bytes and (raw or as_json):
        raise click.UsageError("--raw-bytes prints the body alone: it does not go with --raw or --json")
    capture_id = normal_id(capture_id)
    with reading_errors():
        record = find_capture(data_dir, capture_id, capture_reader(warn))
        try:
            shown, analysis = masked_pair(record, Reading(record, data_dir), mask)
            if raw_bytes:
                write_body_bytes(shown, force)
            elif as_json:
                show_json(shown, analysis)
            else:
                show_text(shown, analysis, raw=raw, colour=colour_enabled())
        except (OSError, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - a hostile capture ends in one line, never a traceback
            message = f"cannot show {capture_name(record)}: {describe_error(exc)}"
            raise click.ClickException(escape(message)) from None
