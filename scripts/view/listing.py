"""``smartech-dumper list``: the captures that match the filters, oldest first, as a table or JSON lines.

Failure policy: an unreadable file ends the command with one line (exit 1);
a capture that cannot be matched or shown is a warning, and the rest go on.
"""

import click

from receiver.store.filters import Filters
from receiver.store.masking import Mask
from receiver.store.select import capture_reader, select
from scripts.errors import reading_errors
from scripts.view.captureview import CaptureLines
from scripts.view.options import data_dir_option, filter_options, json_option, mask_option
from scripts.view.output import warn

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
@mask_option
def list_captures(data_dir: str, filters: Filters, as_json: bool, mask: Mask | None) -> None:
    """List the captures that match the filters, oldest first."""
    reader = capture_reader(warn)
    out = CaptureLines(as_json, mask)
    with reading_errors():
        for record, analysis in select(data_dir, filters, reader, warn=warn):
            out.add(record, analysis)
    reader.report()
    if out.count == 0 and not as_json:
        click.echo("no captures match", err=True)
