"""Count the webhook's answers by status code and time them, in the web worker that answered.

``observed`` wraps the webhook view. The children of the usual status codes
are made at import, so an ack costs a dict lookup, a counter increment and a
histogram observation (each a few microseconds in multiprocess mode, see
``bench/metrics_cost.py``). Under gunicorn the values live in files of
``DUMPER_METRICS_DIR`` (``multiproc``); elsewhere (tests, ``flask run``) in
memory.

Failure policy: ``record`` never raises. A failure (say, the metrics directory
was removed) is logged once per process and the answer goes out unchanged.
"""

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Response
from prometheus_client import Counter, Histogram

from receiver.metrics import multiproc, names

log = logging.getLogger("receiver.metrics")
USUAL_CODES = (200, 400, 401, 403, 408, 413, 503)  # what the webhook view answers (views.py)

# A registry of their own: the inspector's exposition reads the files, never this process's default registry.
ACKS = Counter(names.ACKS, names.ACKS_HELP, ["code"], registry=None)
ACK_SECONDS = Histogram(names.ACK_SECONDS, names.ACK_SECONDS_HELP, buckets=names.ACK_BUCKETS, registry=None)
_by_code: dict[int, Any] = {}
_state = {"pid": 0, "failed": False}


def _child(code: int) -> Any:
    """Return the counter child of ``code``, made once."""
    child = _by_code.get(code)
    if child is None:
        child = _by_code[code] = ACKS.labels(code=str(code))
    return child


def record(code: int, seconds: float) -> None:
    """Count one answer with status ``code`` that took ``seconds``; log a failure once, never raise."""
    try:
        _child(code).inc()
        ACK_SECONDS.observe(seconds)
        pid = os.getpid()
        if _state["pid"] != pid:  # the first answer of this process created its files
            _state["pid"] = pid
            multiproc.secure_own_files(pid)
    except Exception as exc:
        if not _state["failed"]:
            _state["failed"] = True
            log.warning("metrics: cannot count acks in this process (answers are unaffected): %s", exc)


def observed(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap ``view`` so each answer is counted by status code and timed."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        started = time.perf_counter()
        try:
            response = view(*args, **kwargs)
        except Exception:
            record(503, time.perf_counter() - started)  # views.unforeseen answers every surprise with a 503
            raise
        record(response.status_code, time.perf_counter() - started)
        return response

    return wrapper


try:
    for _code in USUAL_CODES:  # made now, so the first ack of each code pays nothing extra
        _child(_code)
except Exception as _exc:  # a bad metrics directory must not stop the app from importing
    log.warning("metrics: cannot prepare the ack counters: %s", _exc)
