"""``smartech-dumper routes check|test`` and ``db init``: validate the routes file, try it on a capture, make tables.

What they report and do is ``receiver.ops.routetrial``'s and
``receiver.routes.tables``', with the worker's planner and table maker
(``jobs.routing``); this module parses the options and prints.

Failure policy: a bad routes file, an unknown capture or an unreachable
database ends the command with one line naming what is wrong and exit 1;
``routes test`` sends nothing anywhere.
"""

import click

from receiver.core.settings import Settings
from receiver.ops.routetrial import capture_events, sink_text, trial_lines
from receiver.routes.config import Routes, Sink
from receiver.routes.tables import NoSqlSink, TableError, make_tables
from receiver.store.safetext import escape
from receiver.store.select import BadCaptureId, normal_id
from scripts.errors import library_errors, load_routes, load_settings, reading_errors
from scripts.view.options import data_dir_option


def required_routes(settings: Settings, path: str | None, hint: str) -> Routes:
    """Return the routes of ``path`` (default ``DUMPER_ROUTES``); a usage error saying ``hint`` without one."""
    found = load_routes(settings, path)
    if found is None:
        raise click.UsageError(hint)
    return found


@click.group()
def routes() -> None:
    """Validate the routes file, or see what it makes of a capture."""


@routes.command("check")
@click.argument("path", required=False, metavar="[FILE]")
def check_routes(path: str | None) -> None:
    """Validate the routes file (default DUMPER_ROUTES) and print each route on one line."""
    found = required_routes(load_settings(), path, "give FILE, or set DUMPER_ROUTES")
    for sink in found.sinks.values():
        click.echo(escape(sink_text(sink)))
    for route in found.routes:
        click.echo(escape(f"route {route.text}"))
    click.echo(f"{found.path}: {len(found.routes)} route(s), {len(found.sinks)} sink(s): OK")


@routes.command("test")
@click.argument("capture_id", metavar="CAPTURE_ID")
@data_dir_option
@click.option("--routes", "path", metavar="FILE", help="The routes file (default DUMPER_ROUTES).")
def test_routes(capture_id: str, data_dir: str, path: str | None) -> None:
    """Show which routes each event of a capture matches; send nothing."""
    from jobs.routing.plan import plan  # only where routes are used

    found = required_routes(load_settings(), path, "give --routes FILE, or set DUMPER_ROUTES")
    try:
        capture_id = normal_id(capture_id)
    except BadCaptureId as exc:
        raise click.BadParameter(str(exc), param_hint="CAPTURE_ID") from None
    with reading_errors():
        analysis = capture_events(data_dir, capture_id)
    for line in trial_lines(analysis, capture_id, found, plan):
        click.echo(escape(line))


@click.group()
def db() -> None:
    """Manage the tables of the sql sinks."""


@db.command("init")
def init_db() -> None:
    """Create the table of every sql sink of the routes file (DUMPER_ROUTES), if missing."""
    from jobs.routing.sinks import Permanent, interpolate  # SQLAlchemy only here
    from jobs.routing.sql import init_table

    settings = load_settings()
    found = required_routes(settings, None, "set DUMPER_ROUTES to the routes file that names the sql sinks")

    def make(sink: Sink) -> str:
        return init_table(interpolate(sink.options, f"sink {sink.name}"), settings.data_dir)

    with library_errors(NoSqlSink, TableError):
        for name, where in make_tables(found, make, named=(Permanent,)):
            click.echo(escape(f"sink {name}: {where} ready"))
