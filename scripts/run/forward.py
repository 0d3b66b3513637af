"""Run the forwarder: hand captures waiting on disk to the RQ queue (``serve`` runs one for you)."""

import os
import signal
import threading

import click

from receiver.core.logsetup import configure_logging
from receiver.forwarder.loop import Forwarder
from scripts.errors import load_settings


@click.command()
@click.option("--once", is_flag=True, help="Hand over what is waiting now, then exit.")
@click.option(
    "--nice",
    "niceness",
    type=click.IntRange(0, 19),
    default=0,
    show_default=True,
    help="Lower this process's CPU priority by this much (serve uses 10, so acks come first).",
)
def forward(once: bool, niceness: int) -> None:
    """Hand captures from the captures files to the queue."""
    settings = load_settings()
    configure_logging(settings.log_level)
    if niceness:
        os.nice(niceness)
    forwarder = Forwarder(settings)
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
