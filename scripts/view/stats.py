"""``smartech-dumper stats``: count captures and events per day or hour, name, channel and activity.

Counting is streaming: memory grows with the number of distinct keys (days,
hours, webhook names, reasons), never with the number of captures. Reject
reasons are capped at ``MAX_REASONS`` distinct values; the rest are "(other)".
"""
from collections import Counter, defaultdict

import click

from .captureview import capture_name
from .output import Table, each_item, human_size, json_line
from .safetext import safe_str
from receiver.store.select import capture_reader, clear_errors, data_dir_option, filter_options, select

PERIODS = {"day": 10, "hour": 13}  # how much of received_at names the period
EVENT_FIELDS = ("webhook_name", "channel", "activity")
MAX_REASONS = 100
OTHER, NONE = "(other)", "(none)"
KIB = 1024
SIZE_BOUNDS = [KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, KIB * KIB]
MAX_SIZE = 2 ** 63 - 1  # no body is larger: a bigger number in a hand-made record is not a size


def size_of(record):
    """Return the capture's size in bytes; 0 when a hand-made record holds something else there."""
    size = record.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_SIZE else 0


def size_bucket(size):
    """Return the label of the size range ``size`` falls in."""
    lower = 0
    for bound in SIZE_BOUNDS:
        if size < bound:
            return f"{human_size(lower)} – {human_size(bound)}"
        lower = bound
    return f">= {human_size(lower)}"


class Tally:
    """Accumulate the counts of one ``stats`` run."""

    def __init__(self, period):
        self.width = PERIODS[period]
        self.periods = defaultdict(Counter)
        self.by_field = {name: Counter() for name in EVENT_FIELDS}
        self.reasons = Counter()
        self.sizes = Counter()
        self.count = self.total = 0
        self.smallest = self.largest = None

    def add(self, record, analysis):
        """Count one capture; everything is read before anything is counted, so a failure counts nothing."""
        size = size_of(record)
        period = safe_str(record["received_at"])[: self.width].replace("T", " ")
        keys = [(name, safe_str(event.get(name)) if event.get(name) is not None else NONE)
                for event in analysis.events for name in EVENT_FIELDS]
        counts = dict(captures=1, events=len(analysis.events), bytes=size,
                      rejected=int(analysis.reason is not None), warnings=int(bool(analysis.warnings)))
        self.periods[period].update(counts)
        for name, key in keys:
            self.by_field[name][key] += 1
        if analysis.reason:
            key = analysis.reason if analysis.reason in self.reasons or len(self.reasons) < MAX_REASONS else OTHER
            self.reasons[key] += 1
        self.sizes[size_bucket(size)] += 1
        self.count, self.total = self.count + 1, self.total + size
        self.smallest = size if self.smallest is None else min(self.smallest, size)
        self.largest = size if self.largest is None else max(self.largest, size)

    def size_summary(self):
        """Return the payload size figures."""
        mean = (self.total + self.count // 2) // self.count if self.count else 0  # exact: no float overflow
        return {"captures": self.count, "bytes": self.total, "min": self.smallest or 0,
                "mean": mean, "max": self.largest or 0}

    def rows(self, period):
        """Yield ``(table, key, counts)`` for every table, in print order."""
        for key in sorted(self.periods):
            yield period, key, dict(self.periods[key])
        for name in EVENT_FIELDS:
            for key, count in self.by_field[name].most_common():
                yield name, key, {"events": count}
        for key, count in self.reasons.most_common():
            yield "reject_reason", key, {"captures": count}
        for bound in [size_bucket(b - 1) for b in SIZE_BOUNDS] + [size_bucket(SIZE_BOUNDS[-1])]:
            if self.sizes[bound]:
                yield "size", bound, {"captures": self.sizes[bound]}


def print_tables(tally, period):
    """Print the tallies as readable tables."""
    click.echo(f"captures by {period} (UTC)")
    table = Table([(period.upper(), 13), ("CAPTURES", 9), ("EVENTS", 8), ("REJECTED", 9), ("WARNINGS", 9),
                   ("BYTES", 0)])
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
    click.echo(f"\npayload sizes: {sizes['captures']} captures, {human_size(sizes['bytes'])} in all, "
               f"min {human_size(sizes['min'])}, mean {human_size(sizes['mean'])}, max {human_size(sizes['max'])}")
    table = Table([("SIZE", 22), ("CAPTURES", 0)])
    table.header()
    for _, key, counts in tally.rows(period):
        if _ == "size":
            table.row([key, counts["captures"]])


@click.command()
@data_dir_option
@filter_options()
@click.option("--by", "period", type=click.Choice(sorted(PERIODS)), default="day", show_default=True,
              help="Count captures per UTC day or per UTC hour.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines: one per table row, then the size summary.")
def stats(data_dir, filters, period, as_json):
    """Count captures per day or hour, webhook_name, channel and activity, with rejects and sizes."""
    tally = Tally(period)
    reader = capture_reader()
    with clear_errors():
        for record, analysis in select(data_dir, filters, reader):
            with each_item(capture_name(record), action="count"):
                tally.add(record, analysis)
    reader.report()
    if as_json:
        for table, key, counts in tally.rows(period):
            json_line({"table": table, "key": key, **counts})
        json_line({"table": "sizes", **tally.size_summary()})
    else:
        print_tables(tally, period)
