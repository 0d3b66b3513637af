"""``smartech-dumper audit``: account for every capture answered 200, per day and source; exit 1 on a hole.

A thin shell over ``receiver.ops.audit``: it prints the books as a table (or one JSON
document with ``--json``), lists every missing capture and every capture
waiting longer than ``--stuck-after``, and exits 1 if there is any. It reads
the data dir and Redis and changes neither, unless ``--requeue`` is given:
then each missing capture is put back on the queue once.

Failure policy: a bad option, a bad setting or Redis away ends the command
with one line and exit 2; never a traceback.
"""

import json
import os

import click

from receiver.ops.audit import AuditFailed, take_books
from receiver.ops.books import STATES, Books
from receiver.store.timeexpr import parse_time, utc_now
from scripts.errors import library_errors, load_settings
from scripts.view.options import DURATION, TIME, data_dir_option
from scripts.view.output import Table, echo_line

DEFAULT_STUCK_AFTER = "10m"
HOLES_EXIT, ERROR_EXIT = 1, 2
COLUMNS = [("DAY", 10), ("SOURCE", 12), ("CAPTURES", 8)] + [(state.upper().replace("_", " "), 9) for state in STATES]


class AuditError(click.ClickException):
    """The audit could not be made (Redis away, a file unreadable): exit 2, apart from 1 for holes in the books."""

    exit_code = ERROR_EXIT


def print_books(books: Books) -> None:
    """Print the table of counts, a total, then the ids to look at."""
    table = Table(COLUMNS)
    table.header()
    for (day, source), counts in sorted(books.rows.items()):
        table.row([day, source, counts["captures"], *[counts[state] for state in STATES]])
    totals = books.totals()
    table.row(["total", "", totals["captures"], *[totals[state] for state in STATES]])
    for title, ids in (("missing", books.missing), ("stuck", books.stuck)):
        if ids:
            echo_line(f"\n{title} ({len(ids)}):")
            for capture_id in ids:
                echo_line(f"  {capture_id}")
    if books.torn:
        echo_line(f"\n{books.torn} unreadable captures lines skipped (see spool/torn-captures.jsonl)")


@click.command("audit")
@data_dir_option
@click.option("--since", type=TIME, help="Only captures received at or after this time (e.g. 2h, yesterday).")
@click.option("--until", type=TIME, help="Only captures received before this time.")
@click.option("--source", "sources", multiple=True, help="Only this source (repeat for several).")
@click.option(
    "--stuck-after",
    type=DURATION,
    default=DEFAULT_STUCK_AFTER,
    show_default=True,
    help="A capture still waiting this long after it was received is stuck.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@click.option("--requeue", is_flag=True, help="Put each missing capture back on the queue, once.")
def audit_command(
    data_dir: str,
    since: str | None,
    until: str | None,
    sources: tuple[str, ...],
    stuck_after: float,
    as_json: bool,
    requeue: bool,
) -> None:
    """Account for every capture: processed, dead letter, waiting (and where) or missing; exit 1 on a hole."""
    settings = load_settings({**os.environ, "DUMPER_DATA_DIR": data_dir})
    now = utc_now()
    window = (parse_time(since, now) if since else None, parse_time(until, now) if until else None)
    with library_errors(AuditFailed, error=AuditError):
        books, requeued = take_books(settings, *window, frozenset(sources), stuck_after, now, requeue)
    if as_json:
        click.echo(json.dumps({**books.json(), "requeued": requeued}))
    else:
        print_books(books)
        if requeue:
            echo_line(f"\nrequeued {len(requeued)} of {len(books.missing)} missing")
    if books.missing or books.stuck:
        raise SystemExit(HOLES_EXIT)
