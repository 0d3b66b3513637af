"""``smartech-dumper inspect``: serve the web inspector (read-only pages over the data dir) under gunicorn.

It checks the settings first (``DUMPER_INSPECT_AUTH`` is required), then
becomes gunicorn (``exec``): gunicorn restarts its own workers, and the
process that a supervisor (``up``, systemd) watches is gunicorn's master.
"""

import os
import sys

import click

from receiver.core.settings import SettingsError
from receiver.store.safetext import escape
from scripts.errors import load_settings

DEFAULT_BIND = "127.0.0.1:8080"
APP = "receiver.inspector:create_app()"
CONFIG = "python:receiver.inspector.gunicorn_conf"


def gunicorn_command(bind, extra=()):
    """Return the argv that runs the inspector under gunicorn on ``bind``."""
    return [sys.executable, "-m", "gunicorn", "--config", CONFIG, "--bind", bind, *extra, APP]


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    envvar="DUMPER_INSPECT_BIND",
    help="host:port (or unix:PATH) to listen on. [env var: DUMPER_INSPECT_BIND]",
)
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def inspect(bind, gunicorn_args):
    """Serve the web inspector: browse captures live in a browser (needs DUMPER_INSPECT_AUTH)."""
    settings = load_settings()
    try:
        settings.require_inspect()
    except SettingsError as exc:
        raise click.ClickException(escape(str(exc))) from None
    argv = gunicorn_command(bind, gunicorn_args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
