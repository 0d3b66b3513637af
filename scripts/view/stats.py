"""``smartech-dumper stats``: count captures and events per day or hour, name, channel and activity.

The counting is the library's (``receiver.store.summary.tally_captures``:
streaming, reject reasons capped); this module prints it as tables or JSON lines.

Failure policy: an unreadable file ends the command with one line (exit 1);
a capture that cannot be counted is a warning, and the count goes on.
"""

import click

from receiver.store.filters import Filters
from receiver.store.select import capture_reader, select
from receiver.store.summary import EVENT_FIELDS, PERIODS, Tally, tally_captures
from receiver.store.text import human_size
from scripts.errors import reading_errors
from scripts.view.options import data_dir_option, filter_options
from scripts.view.output import Table, json_line, warn

SIZE_TABLE = "size"
DEFAULT_PERIOD = "day"


def print_tables(tally: Tally, period: str) -> None:
    """Print the tallies as readable tables."""
    click.echo(f"captures by {period} (UTC)")
    table = Table(
        [(period.upper(), 13), ("CAPTURES", 9), ("EVENTS", 8), ("REJECTED", 9), ("WARNINGS", 9), ("BYTES", 0)]
    )
    table.header()
    for key in sorted(tally.periods):
        row = tally.periods[key]
        table.row([key, row["captures"], row["events"], row["rejected"], row["warnings"], human_size(row["bytes"])])
    for name in EVENT_FIELDS:
        click.echo(f"\nevents by {name}")
        table = Table([(name.upper(), 40), ("EVENTS", 0)])
        table.header()
        for key, count in tally.by_field[name].most_common():
            table.row([key, count])
    click.echo(f"\nrejects: {sum(tally.reasons.values())}")
    if tally.reasons:
        table = Table([("CAPTURES", 9), ("REASON", 0)])
        table.header()
        for key, count in tally.reasons.most_common():
            table.row([count, key])
    sizes = tally.size_summary()
    click.echo(
        f"\npayload sizes: {sizes['captures']} captures, {human_size(sizes['bytes'])} in all, "
        f"min {human_size(sizes['min'])}, mean {human_size(sizes['mean'])}, max {human_size(sizes['max'])}"
    )
    table = Table([("SIZE", 22), ("CAPTURES", 0)])
    table.header()
    for table_name, key, counts in tally.rows(period):
        if table_name == SIZE_TABLE:
            table.row([key, counts["captures"]])


@click.command()
@data_dir_option
@filter_options()
@click.option(
    "--by",
    "period",
    type=click.Choice(sorted(PERIODS)),
    default=DEFAULT_PERIOD,
    show_default=True,
    help="Count captures per UTC day or per UTC hour.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines: one per table row, then the size summary.")
def stats(data_dir: str, filters: Filters, period: str, as_json: bool) -> None:
    """Count captures per day or hour, webhook_name, channel and activity, with rejects and sizes."""
    reader = capture_reader(warn)
    with reading_errors():
        tally = tally_captures(select(data_dir, filters, reader, warn=warn), period, warn)
    reader.report()
    if as_json:
        for table, key, counts in tally.rows(period):
            json_line({"table": table, "key": key, **counts})
        json_line({"table": "sizes", **tally.size_summary()})
    else:
        print_tables(tally, period)
