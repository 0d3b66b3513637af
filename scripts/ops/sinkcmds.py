"""``smartech-dumper sinks list|pause NAME|resume NAME``: see each sink's state, hold its deliveries, let them go.

The state is ``receiver.routes.sinkstate``'s and ``status``' (in Redis, shared
by every host); a resume queues the waiting deliveries through
``receiver.routes.undelivered``, high priority first. Failure policy: a sink
the routes file does not name, no routes file, or Redis away ends the command
with one line and exit 1; a pause survives restarts (it lives in Redis).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
import redis

from receiver.core import queues as queueing
from receiver.core.settings import Settings
from receiver.routes import sinkstate, undelivered
from receiver.routes.config import Routes
from receiver.routes.status import sink_counts
from receiver.store.safetext import escape
from scripts.errors import load_routes, load_settings


@contextmanager
def routed() -> Iterator[tuple[Settings, Routes, redis.Redis]]:
    """Yield the settings, the routes file and a Redis connection; one line and exit 1 when any is missing."""
    settings = load_settings()
    routes = load_routes(settings)
    if routes is None:
        raise click.UsageError("set DUMPER_ROUTES to the routes file that names the sinks")
    connection = queueing.connect(settings)
    try:
        yield settings, routes, connection
    except queueing.REDIS_ERRORS as exc:
        raise click.ClickException(escape(f"Redis ({settings.redis_url.split('@')[-1]}): {exc}")) from None
    finally:
        connection.close()


def known(routes: Routes, name: str) -> str:
    """Return ``name`` if the routes file names that sink; a usage error otherwise."""
    if name not in routes.sinks:
        raise click.BadParameter(f"no sink {name!r} in {routes.path} (sinks: {', '.join(sorted(routes.sinks))})")
    return name


@click.group("sinks")
def sinks_group() -> None:
    """See the sinks of the routes file, pause one (its deliveries wait) and resume it."""


@sinks_group.command("list")
def list_sinks() -> None:
    """Print one line per sink: type, paused or not, its breaker, deliveries waiting, retrying, dead, delivered."""
    with routed() as (settings, routes, connection):
        counts = sink_counts(settings, connection, with_waiting=True)
        states = sinkstate.states(connection, settings.queue, sorted(routes.sinks))
    for name, state in states.items():
        paused = state["paused_since"]
        breaker = state["breaker"]
        words = [
            f"sink {name}: {routes.sinks[name].type}",
            "paused since " + datetime.fromtimestamp(paused, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            if paused
            else "active",
            f"breaker open ({breaker['failures']} failures)" if breaker["open"] else "breaker closed",
            ", ".join(f"{counts.get(name, {}).get(kind, 0)} {kind}" for kind in ("waiting", "retrying", "dead")),
            f"{counts.get(name, {}).get('delivered', 0)} delivered",
        ]
        click.echo(escape("; ".join(words)))


@sinks_group.command("pause")
@click.argument("name")
def pause_sink(name: str) -> None:
    """Pause sink NAME: its deliveries wait (none is lost or dead-lettered) until `sinks resume NAME`."""
    with routed() as (settings, routes, connection):
        done = sinkstate.pause(connection, settings.queue, known(routes, name))
    click.echo(escape(f"sink {name}: paused" if done else f"sink {name}: paused already"))


@sinks_group.command("resume")
@click.argument("name")
def resume_sink(name: str) -> None:
    """Resume sink NAME: the deliveries its pause kept waiting go out now, high priority first, within its limits."""
    with routed() as (settings, routes, connection):
        was = sinkstate.unpause(connection, settings.queue, known(routes, name))
        sent = undelivered.resume_sends(settings, connection, name)
    click.echo(escape(f"sink {name}: {'resumed' if was else 'was not paused'}; {sent} waiting deliveries queued"))
