"""``smartech-dumper routes check|test`` and ``db init``: validate the routes file, try it on a capture, make tables.

Failure policy: a bad routes file, an unknown capture or an unreachable
database ends the command with one line naming what is wrong and exit 1;
``routes test`` sends nothing anywhere.
"""

import click

from receiver.routes.redact import redact, url_secrets
from receiver.store.reading import Reading
from receiver.store.safetext import escape
from receiver.store.select import BadCaptureId, capture_reader, find_capture, normal_id
from scripts.errors import load_routes, load_settings, reading_errors
from scripts.view.options import data_dir_option


@click.group()
def routes():
    """Validate the routes file, or see what it makes of a capture."""


@routes.command("check")
@click.argument("path", required=False, metavar="[FILE]")
def check_routes(path):
    """Validate the routes file (default DUMPER_ROUTES) and print each route on one line."""
    settings = load_settings()
    if not (path or settings.routes_path):
        raise click.UsageError("give FILE, or set DUMPER_ROUTES")
    found = load_routes(settings, path)
    for name, sink in found.sinks.items():
        url = sink.options.get("url")
        shown = f" {redact(str(url), url_secrets(url))}" if url is not None else ""  # a password or ?token= in clear
        click.echo(escape(f"sink {name}: {sink.type}{shown}"))
    for route in found.routes:
        click.echo(escape(f"route {route.text}"))
    click.echo(f"{found.path}: {len(found.routes)} route(s), {len(found.sinks)} sink(s): OK")


@routes.command("test")
@click.argument("capture_id", metavar="CAPTURE_ID")
@data_dir_option
@click.option("--routes", "path", metavar="FILE", help="The routes file (default DUMPER_ROUTES).")
def test_routes(capture_id, data_dir, path):
    """Show which routes each event of a capture matches; send nothing."""
    from jobs.routing.plan import plan  # only where routes are used

    settings = load_settings()
    if not (path or settings.routes_path):
        raise click.UsageError("give --routes FILE, or set DUMPER_ROUTES")
    found = load_routes(settings, path)
    try:
        capture_id = normal_id(capture_id)
    except BadCaptureId as exc:
        raise click.BadParameter(str(exc), param_hint="CAPTURE_ID") from None
    with reading_errors():
        analysis = Reading(find_capture(data_dir, capture_id, capture_reader()))
    if analysis.reason:
        click.echo(escape(f"capture {capture_id} is rejected ({analysis.reason}): no event to route"))
        return
    for event in analysis.events:
        planned = plan(found, [event])
        now = [f"{sink} on {queue} (route {batch[0]['route']})" for (queue, sink), batch in planned.deliveries.items()]
        later = [f"check of route {route.name} after {route.after:g}s" for route, _ in planned.checks]
        cancels = [f"follow-up for route {route.name} ({route.key}={value})" for route, value, _ in planned.arrivals]
        what = "; ".join(now + later + cancels) or "no route: the events file only"
        click.echo(escape(f"event {event['event_id']} ({event.get('webhook_name')}): {what}"))


@click.group()
def db():
    """Manage the tables of the sql sinks."""


@db.command("init")
def init_db():
    """Create the table of every sql sink of the routes file (DUMPER_ROUTES), if missing."""
    from jobs.routing.sinks import Permanent, interpolate  # SQLAlchemy only here
    from jobs.routing.sql import init_table

    settings = load_settings()
    if not settings.routes_path:
        raise click.UsageError("set DUMPER_ROUTES to the routes file that names the sql sinks")
    found = load_routes(settings)
    sql_sinks = [sink for sink in found.sinks.values() if sink.type == "sql"]
    if not sql_sinks:
        raise click.ClickException(f"{found.path} has no sql sink")
    for sink in sql_sinks:
        try:
            where = init_table(interpolate(sink.options, f"sink {sink.name}"), settings.data_dir)
        except Permanent as exc:
            raise click.ClickException(escape(str(exc))) from None
        except Exception as exc:  # SQLAlchemy's errors: a database that is away, a bad URL, no permission
            raise click.ClickException(escape(f"sink {sink.name}: {type(exc).__name__}: {exc}")) from None
        click.echo(escape(f"sink {sink.name}: {where} ready"))
