"""The command line that serves the web inspector under gunicorn, with its own config and app factory.

``smartech-dumper inspect`` checks the settings, then becomes this command
(``exec``), so the process a supervisor watches is gunicorn's master.

Failure policy: pure; never raises.
"""

import sys
from collections.abc import Sequence

DEFAULT_BIND = "127.0.0.1:8080"
APP = "receiver.inspector:create_app()"
CONFIG = "python:receiver.inspector.gunicorn_conf"


def gunicorn_argv(bind: str, extra: Sequence[str] = ()) -> list[str]:
    """Return the argv that runs the inspector under gunicorn on ``bind``, with ``extra`` gunicorn options."""
    return [sys.executable, "-m", "gunicorn", "--config", CONFIG, "--bind", bind, *extra, APP]
