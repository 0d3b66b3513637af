"""The command lines of our own processes: what ``serve``, ``up`` and a worker start and supervise.

Each is ``python -m scripts <command>`` (or ``-m gunicorn``) with this
interpreter, so a child runs the same installed code as its parent. Pure
functions; nothing here starts anything.
"""

import sys
from collections.abc import Sequence

from receiver.core.keys import DELIVERIES

WEB_APP = "receiver.web:create_app()"
WEB_CONFIG = "python:receiver.web.gunicorn_conf"
FORWARDER_NICE = 10  # the forwarder's CPU priority below the web's, so acks come first under load
DELIVERY_SUFFIX = "-deliveries"  # the delivery lane's RQ name, after the worker's own --name


def ours(*argv: str) -> list[str]:
    """Return the argv of ``smartech-dumper <argv>`` run with this interpreter."""
    return [sys.executable, "-m", "scripts", *argv]


def web(bind: str, extra: Sequence[str] = ()) -> list[str]:
    """Return the argv of gunicorn serving the webhook app with our configuration on ``bind``."""
    return [sys.executable, "-m", "gunicorn", "--config", WEB_CONFIG, "--bind", bind, *extra, WEB_APP]


def forwarder() -> list[str]:
    """Return the argv of the forwarder process ``serve`` starts."""
    return ours("forward", "--nice", str(FORWARDER_NICE))


def delivery_lane(worker_class: str, name: str | None) -> list[str]:
    """Return the argv of the delivery lane's worker, which a ``worker`` serving captures starts."""
    argv = ours("worker", "--lane", DELIVERIES, "--worker-class", worker_class)
    return argv + (["--name", name + DELIVERY_SUFFIX] if name else [])
