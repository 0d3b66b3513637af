"""Serve the receiver under gunicorn with the recommended settings (receiver/gunicorn_conf.py)."""
import os
import sys

import click

from receiver.settings import SettingsError, load

DEFAULT_BIND = "127.0.0.1:8000"


def gunicorn_command(bind, extra=()):
    """Return the argv that runs gunicorn with our configuration on ``bind``."""
    return [sys.executable, "-m", "gunicorn", "--config", "python:receiver.gunicorn_conf", "--bind", bind,
            *extra, "receiver:create_app()"]


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--bind", default=DEFAULT_BIND, show_default=True, envvar="DUMPER_BIND",
              help="host:port (or unix:PATH) to listen on. [env var: DUMPER_BIND]")
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def serve(bind, gunicorn_args):
    """Serve webhooks under gunicorn; extra arguments go to gunicorn as they are."""
    try:
        load().require_web()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    command = gunicorn_command(bind, gunicorn_args)
    os.execv(command[0], command)
