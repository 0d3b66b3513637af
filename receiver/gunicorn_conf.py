"""Gunicorn settings for the receiver; load with ``--config python:receiver.gunicorn_conf``.

The master validates the settings before it forks, so a bad value stops the
start with one line naming the variable instead of a worker boot loop.
"""
import os
import sys

from receiver.settings import SettingsError, load

# Chosen by `make bench` on 2 cores: 4 processes beat 2 in every run (gthread 4x2 and sync 4 were
# within noise of each other); gthread keeps keep-alive and a slow client cannot hold a process.
DEFAULT_WORKERS = 4
DEFAULT_THREADS = 2
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
