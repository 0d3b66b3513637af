"""Run the forwarder on its own: hand captures waiting on disk to the RQ queue."""
import signal
import threading

import click

from receiver.forwarder import Forwarder
from receiver.settings import SettingsError, load
from receiver.status import alert_observer


@click.command()
@click.option("--once", is_flag=True, help="Hand over what is waiting now, then exit.")
def forward(once):
    """Hand captures from the captures files to the queue (web processes do this by default)."""
    try:
        settings = load()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    forwarder = Forwarder(settings, observer=alert_observer(settings))
    if once:
        if not forwarder.try_lead():
            raise click.ClickException("another process is forwarding this data dir; nothing to do")
        try:
            count = forwarder.drain()
        finally:
            forwarder.release()
        if forwarder.redis_down_since is not None:
            raise click.ClickException(f"REDIS_URL: Redis unreachable after {count} captures; the rest wait on disk")
        click.echo(f"handed {count} captures to queue {settings.queue!r}")
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    forwarder.run(stop)
