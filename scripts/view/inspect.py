"""``smartech-dumper inspect``: serve the web inspector (read-only pages over the data dir) under gunicorn.

It checks the settings first (``DUMPER_INSPECT_AUTH`` is required), then
becomes gunicorn (``exec``, the command line of ``receiver.inspector.launch``):
gunicorn restarts its own workers, and the process that a supervisor (``up``,
systemd) watches is gunicorn's master.

Failure policy: a missing or bad setting ends the command with one line
(exit 1) before anything starts.
"""

import os
import sys

import click

from receiver.core.settings import SettingsError
from receiver.inspector.launch import DEFAULT_BIND, gunicorn_argv
from scripts.errors import library_errors, load_settings


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    envvar="DUMPER_INSPECT_BIND",
    help="host:port (or unix:PATH) to listen on. [env var: DUMPER_INSPECT_BIND]",
)
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def inspect(bind: str, gunicorn_args: tuple[str, ...]) -> None:
    """Serve the web inspector: browse captures live in a browser (needs DUMPER_INSPECT_AUTH)."""
    settings = load_settings()
    with library_errors(SettingsError):
        settings.require_inspect()
    argv = gunicorn_argv(bind, gunicorn_args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
