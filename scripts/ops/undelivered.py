"""``smartech-dumper undelivered``: the events routed to a sink and not delivered yet, and ``--retry`` for them.

The selection is ``receiver.routes.undelivered``'s: delivery jobs waiting
(queued, or waiting for a limit, a pause, the breaker), retrying, or dead,
and their events the sink has not taken. Failure policy: no routes file, a
bad option or Redis away ends the command with one line and exit 1;
``--retry`` without ``--yes`` only says how many deliveries it would retry.
"""

import click

from receiver.routes import undelivered as library
from receiver.store.safetext import escape, json_text
from receiver.store.timeexpr import parse_time
from scripts.ops.sinkcmds import known, routed
from scripts.view.options import TIME

COLUMNS = ("received_at", "event_id", "sink", "state", "reason", "last_answer")


@click.command("undelivered")
@click.option("--sink", "sink", metavar="S", help="Only deliveries to sink S.")
@click.option("--since", type=TIME, help="Only events received at or after TIME (UTC): 2h, today, 2026-11-28.")
@click.option("--state", "state", type=click.Choice(library.STATES), help="Only deliveries in this state.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, with its event_id.")
@click.option("--retry", is_flag=True, help="Send the selected deliveries again now (with --yes).")
@click.option("--yes", is_flag=True, help="With --retry: do it (without: say how many it would retry).")
def undelivered(sink: str | None, since: str | None, state: str | None, as_json: bool, retry: bool, yes: bool) -> None:
    """List the events routed to a sink and not delivered yet (waiting, retrying, dead): why, and the last answer."""
    with routed() as (settings, routes, connection):
        if sink is not None:
            known(routes, sink)
        states = (state,) if state else library.STATES
        found = library.select(settings, connection, sink, parse_time(since) if since else None, states)
        if retry:
            events = sum(len(each.events) for each in found)
            if not yes:
                click.echo(f"would retry {len(found)} deliveries ({events} events); add --yes to retry them")
                raise SystemExit(1)
            click.echo(f"retrying {len(found)} deliveries ({events} events)")
            click.echo(f"{library.send_again(found)} deliveries queued")
            return
    for row in library.rows(found):
        if as_json:
            click.echo(json_text(row))
        else:
            click.echo("  ".join(escape(str(row[column] if row[column] is not None else "-")) for column in COLUMNS))
