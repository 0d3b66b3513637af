"""Gunicorn settings for the web inspector; load with ``--config python:receiver.inspector.gunicorn_conf``.

The inspector decodes captures (CPU work, a page at a time), so it runs
threads, not the webhook's gevent greenlets: a long page never stalls the
others in its process. A page stops reading after ``paging.SCAN_SECONDS``,
well within ``timeout``. The master validates the settings before it forks,
so a missing ``DUMPER_INSPECT_AUTH`` stops the start with one line naming it.
"""

import sys

from receiver.settings import Settings, SettingsError, load

PROCESSES = 2
THREADS = 4
TIMEOUT = 30
GRACEFUL_TIMEOUT = 10
KEEPALIVE = 5


def validated() -> Settings:
    """Return the settings, or stop the start with one line naming the bad setting."""
    try:
        return load().require_inspect()
    except SettingsError as exc:
        print(f"smartech-dumper inspect: bad setting: {exc}", file=sys.stderr)
        sys.exit(2)


_settings = validated()
worker_class = "gthread"
workers = PROCESSES
threads = THREADS
timeout = TIMEOUT
graceful_timeout = GRACEFUL_TIMEOUT
keepalive = KEEPALIVE
accesslog = None
errorlog = "-"
control_socket_disable = True  # as receiver/gunicorn_conf.py: one fixed path per user, and unused
