"""``smartech-dumper tail``: the latest captures, one line each, and with ``-f`` each new one as it arrives.

It reads the captures files (``.jsonl`` and ``.jsonl.gz``) one record at a
time and decodes each capture with the worker's own code, so what it shows
is what the worker makes of it, whether or not a worker has run yet.
"""

from collections import deque

import click

from receiver.store.follow import Follower
from receiver.store.select import capture_reader, matching
from scripts.errors import reading_errors
from scripts.view.captureview import CaptureLines
from scripts.view.options import data_dir_option, filter_options, json_option
from scripts.view.output import warn

DEFAULT_TAIL_LINES = 10


def last_matching(follower, filters, count):
    """Return the last ``count`` matching captures: from the live files, then older ones if needed."""
    latest = deque(matching(follower.poll(), filters, limit=False, warn=warn, data_dir=follower.data_dir), maxlen=count)
    for path in follower.older():
        if len(latest) >= count:
            break
        earlier = deque(
            matching(follower.reader.records(path), filters, limit=False, warn=warn, data_dir=follower.data_dir),
            maxlen=count - len(latest),
        )
        latest.extendleft(reversed(earlier))
    return latest


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
def tail(data_dir, filters, count, follow, as_json):
    """Show the latest captures, one line each; -f follows new ones as they arrive."""
    reader = capture_reader(warn)
    follower = Follower(data_dir, reader)
    out = CaptureLines(as_json)
    with reading_errors():
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
            for record, analysis in matching(follower.follow(), filters, limit=False, warn=warn, data_dir=data_dir):
                out.add(record, analysis)
        except KeyboardInterrupt:
            reader.report()
