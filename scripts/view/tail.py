"""``smartech-dumper tail``: the latest captures, one line each, and with ``-f`` each new one as it arrives.

It reads the captures files (``.jsonl`` and ``.jsonl.gz``) one record at a
time and decodes each capture with the worker's own code, so what it shows
is what the worker makes of it, whether or not a worker has run yet. What
to show is ``receiver.store.latest``'s; this module prints it.

Failure policy: an unreadable file ends the command with one line (exit 1);
a capture that cannot be matched or shown is a warning, and the rest go on;
Ctrl-C ends ``-f`` quietly.
"""

import click

from receiver.store.filters import Filters
from receiver.store.follow import Follower
from receiver.store.latest import last_matching, new_matching, skip_to_end
from receiver.store.masking import Mask
from receiver.store.select import capture_reader
from scripts.errors import reading_errors
from scripts.view.captureview import CaptureLines
from scripts.view.options import data_dir_option, filter_options, json_option, mask_option
from scripts.view.output import warn

DEFAULT_TAIL_LINES = 10


@click.command()
@data_dir_option
@filter_options(window=False, limit=False)
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    default=DEFAULT_TAIL_LINES,
    show_default=True,
    metavar="N",
    help="How many of the latest captures to show first.",
)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep running and show each new capture as it arrives "
    "(also across midnight, when the receiver starts a new day file). Ctrl-C stops.",
)
@json_option
@mask_option
def tail(data_dir: str, filters: Filters, count: int, follow: bool, as_json: bool, mask: Mask | None) -> None:
    """Show the latest captures, one line each; -f follows new ones as they arrive."""
    reader = capture_reader(warn)
    follower = Follower(data_dir, reader)
    out = CaptureLines(as_json, mask)
    with reading_errors():
        if count:
            for record, analysis in last_matching(follower, filters, count, warn):
                out.add(record, analysis)
        else:
            skip_to_end(follower)  # -n 0: start following from the end, showing nothing old
        if not follow:
            reader.report()
            return
        try:
            for record, analysis in new_matching(follower, filters, warn):
                out.add(record, analysis)
        except KeyboardInterrupt:
            reader.report()
