"""Serve the receiver: gunicorn with our settings, the forwarder beside it, and the alert monitor.

``serve`` supervises (see ``supervisor``): gunicorn (``receiver/web/gunicorn_conf.py``)
and, with ``DUMPER_FORWARDER=true``, one ``smartech-dumper forward`` process at a
lower CPU priority, so forwarding never takes the CPU from acks under load and
a backlog is forwarded in the idle moments. Either is restarted if it dies,
without touching the other. With ``DUMPER_ALERT_EMAILS`` set, or the
continuous audit on (``DUMPER_AUDIT_WINDOW``, the default), the alert
monitor runs on its own timer in this process. SIGTERM or Ctrl-C stops
gunicorn gracefully (requests in flight are answered), then the forwarder.
SIGHUP makes gunicorn reload its workers.
"""

import sys
import threading
from collections.abc import Sequence

import click

from receiver.core.logsetup import configure_logging
from receiver.ops.monitor import Monitor
from receiver.procs import commands
from receiver.procs.supervisor import Child, Supervisor
from scripts.errors import load_routes, load_settings

DEFAULT_BIND = "127.0.0.1:8000"


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    envvar="DUMPER_BIND",
    help="host:port (or unix:PATH) to listen on. [env var: DUMPER_BIND]",
)
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def serve(bind: str, gunicorn_args: Sequence[str]) -> None:
    """Serve webhooks under gunicorn, with the forwarder; extra arguments go to gunicorn as they are."""
    settings = load_settings(web=True)
    load_routes(settings)  # the workers route; a bad routes file stops this start too, naming the route and the key
    configure_logging(settings.log_level)  # the alert monitor logs from this process
    web = Child("web", commands.web(bind, gunicorn_args))
    children = ([Child("forwarder", commands.forwarder())] if settings.forwarder else []) + [web]
    supervisor = Supervisor(children, say=lambda text: click.echo(f"smartech-dumper serve: {text}", err=True))
    supervisor.handle_signals(reload_child=web)
    supervisor.start()
    if settings.alert_emails or settings.audit_window is not None:  # mails, and the continuous audit
        threading.Thread(target=Monitor(settings).run, args=(supervisor.stopping,), name="monitor", daemon=True).start()
    sys.exit(supervisor.run())
