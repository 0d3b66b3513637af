"""Gunicorn settings for the receiver; load with ``--config python:receiver.gunicorn_conf``.

The master validates the settings before it forks, so a bad value stops the
start with one line naming the variable instead of a worker boot loop.
"""
import os
import sys

from receiver.settings import SettingsError, load

DEFAULT_WORKERS = 2
DEFAULT_THREADS = 4
GRACEFUL_TIMEOUT = 30

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", DEFAULT_WORKERS))
threads = int(os.environ.get("DUMPER_WEB_THREADS", DEFAULT_THREADS))
graceful_timeout = GRACEFUL_TIMEOUT
accesslog = None
errorlog = "-"
# gunicorn 23+ opens a control socket at one fixed path per user; several receivers
# on one host would fight over it, and we do not use it.
control_socket_disable = True


def on_starting(server):
    """Refuse to start with bad settings, naming the setting."""
    try:
        load().require_web()
    except SettingsError as exc:
        print(f"smartech-dumper: bad setting: {exc}", file=sys.stderr)
        sys.exit(2)
