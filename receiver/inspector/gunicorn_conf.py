"""Gunicorn settings for the web inspector; load with ``--config python:receiver.inspector.gunicorn_conf``.

The worker class is the webhook's (``receiver/web/gunicorn_worker.py``, gevent):
each connection is a greenlet, so a socket that sends nothing, or half a
request line, costs a greenlet and never a thread (under gthread, 2 x 4 such
sockets left no thread for ``/healthz``). The request line and headers must
arrive within ``KEEPALIVE`` seconds, the header deadline gunicorn's gevent
worker enforces; a process serves at most ``CONNECTIONS`` at once, and the
kernel queues the rest. Decoding is CPU work that a greenlet does not give
up, so reads are bounded in time and pause now and then for the other
greenlets: a page stops after ``DUMPER_INSPECT_SCAN_SECONDS`` (or
``paging.PAGE_BYTES`` of captures), a detail lookup after
``lookup.LOOKUP_SECONDS``, both well within ``timeout``.
The master validates the settings before it forks, so a missing
``DUMPER_INSPECT_AUTH`` stops the start with one line naming it.
"""

from receiver.core.settings import Settings, load_or_exit

PROCESSES = 2
CONNECTIONS = 200  # per process; an inspector has a few users, so this is ample and bounds the greenlets
TIMEOUT = 30
GRACEFUL_TIMEOUT = 10
KEEPALIVE = 5


_settings = load_or_exit(Settings.require_inspect, "smartech-dumper inspect")
worker_class = "receiver.web.gunicorn_worker.Worker"  # gevent, as the webhook: idle sockets cost a greenlet
workers = PROCESSES
worker_connections = CONNECTIONS
timeout = TIMEOUT
graceful_timeout = GRACEFUL_TIMEOUT
keepalive = KEEPALIVE  # also the header deadline: request line and headers within this
accesslog = None
errorlog = "-"
control_socket_disable = True  # as receiver/web/gunicorn_conf.py: one fixed path per user, and unused
