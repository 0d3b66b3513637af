"""Gunicorn settings for the receiver; load with ``--config python:receiver.web.gunicorn_conf``.

The worker class is gevent (``receiver/web/gunicorn_worker.py``): each connection is a greenlet, so connections
that trickle their headers or body, or send nothing, cost a greenlet each and
never stop other requests from being read and answered (the gthread class
gave each of them a thread until none was left: eight slow connections
stopped a 4x2 server). Request line and headers must arrive within
``keepalive`` seconds (gunicorn's gevent worker bounds that read); the body
within ``DUMPER_BODY_TIMEOUT`` (see ``receiver/web/body.py``). The blocking disk
writes and syncs run in gevent's native thread pool (``receiver/web/commit.py``).

The master validates the settings when it reads this file, before it forks,
so a bad value stops the start with one line naming the variable instead of
a worker boot loop. (A bad WEB_CONCURRENCY already breaks gunicorn's own
defaults; ``smartech-dumper serve`` checks it first.)

It also points prometheus_client at ``DUMPER_METRICS_DIR`` before anything
imports it, so the workers it forks count acks in files the inspector's
``/metrics`` sums (``receiver/metrics/multiproc.py``): the last run's files
are removed when the master starts (not on a SIGHUP reload, which re-reads this
file), and a worker that exits is marked dead.
"""

import sys

from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker

from receiver.core.settings import Settings, load_or_exit
from receiver.metrics import multiproc

GRACEFUL_TIMEOUT = 30
KEEPALIVE = 5


_settings = load_or_exit(Settings.require_web, "smartech-dumper")
_metrics_dir = multiproc.prepare(_settings)  # before any import of prometheus_client, in this master


def on_starting(server: Arbiter) -> None:
    """Remove the counter files of the last run: once per start of the master, never on a reload.

    Not when another ``serve`` uses the same directory: its files are live, and would vanish from /metrics.
    """
    if _metrics_dir and not multiproc.claim(_metrics_dir):
        print(
            f"smartech-dumper: warning: another serve uses DUMPER_METRICS_DIR {_metrics_dir}: its counter files "
            "are kept, and /metrics adds both up; give each serve its own DUMPER_METRICS_DIR to count them apart",
            file=sys.stderr,
        )
        return
    multiproc.clear(_metrics_dir)


def child_exit(server: Arbiter, worker: Worker) -> None:
    """Tell prometheus_client that a web worker exited."""
    multiproc.process_dead(int(worker.pid))


worker_class = "receiver.web.gunicorn_worker.Worker"  # gevent, with gunicorn's 501 made a 400
workers = _settings.web_processes
worker_connections = _settings.web_connections
keepalive = KEEPALIVE
graceful_timeout = GRACEFUL_TIMEOUT
accesslog = None
errorlog = "-"
# gunicorn 23+ opens a control socket at one fixed path per user; several receivers
# on one host would fight over it, and we do not use it.
control_socket_disable = True
