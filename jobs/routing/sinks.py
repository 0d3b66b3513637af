"""Deliver events to one sink: a SQL table, an HTTP endpoint or a Python function.

Failure policy: a delivery that may work later (a refused or timed-out
connection, an HTTP 408, 409, 429 or 5xx, a database error, an exception of a
Python sink) raises ``Retryable``; one that never will (another 4xx, an
unset ``${VARIABLE}``, a URL or header that is not one, a Python sink that
cannot be imported) raises ``Permanent``, with the status and the first KiB
of the answer (the only part read: ``httpcall``). An http sink's ``timeout``
bounds each POST as a whole, connect to last byte; a POST it cut raises
``Unanswered``, the ``Retryable`` after which routing rests the sink; a 429 or
503 with Retry-After (seconds or an HTTP date) raises ``Throttled``, whose wait
routing honours without counting a failure. ``pace`` (the sink's rate) is
called before each request, call or transaction, and may wait. No error
text holds a secret of the sink (``redact``): not a ``${VARIABLE}``'s value,
the auth, a header value, nor the URL's password or query. Each event already
delivered is reported to ``delivered`` as it goes, so a retry sends only the rest.
"""

import importlib
import json
import os
import re
import threading
from collections.abc import Callable
from typing import Any

import requests

from jobs.routing import httpcall
from jobs.routing.sql import insert_events
from receiver.routes.config import DEFAULT_TIMEOUT, Sink
from receiver.routes.redact import option_secrets, redact

RETRY_STATUSES = (408, 409, 429)
THROTTLE_STATUSES = (429, 503)  # with Retry-After: the sink asks for a pause, it has not failed
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
USER_AGENT = "smartech-dumper-sink"
# A request that can never be sent (a URL or header value that is not one): no retry makes it valid.
NEVER_SENDABLE = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)
Delivered = Callable[[list[dict[str, Any]]], None]
Pace = Callable[[], None]  # called before each request (http), call (python) or transaction (sql): may wait


def no_pace() -> None:
    """A sink without a rate: nothing to wait for."""


class Retryable(Exception):
    """The delivery failed now and may succeed later."""


class Unanswered(Retryable):
    """An http sink did not answer within its timeout (``seconds``): routing rests it as long."""

    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


class Throttled(Retryable):
    """An http sink answered 429 or 503 with Retry-After: no try before ``seconds`` from now."""

    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


class Permanent(Exception):
    """The delivery will never succeed as it is; retrying would only repeat it."""


def interpolate(value: Any, where: str, substituted: list[str] | None = None) -> Any:
    """Replace ``${NAME}`` in every string of ``value`` by the environment variable, or raise ``Permanent``.

    Each value put in is appended to ``substituted``: a secret, kept out of error texts (``redact``).
    """
    if isinstance(value, str):

        def variable(match: re.Match[str]) -> str:
            if match.group(1) not in os.environ:
                raise Permanent(f"{where}: ${{{match.group(1)}}} is not set in the worker's environment")
            if substituted is not None:
                substituted.append(os.environ[match.group(1)])
            return os.environ[match.group(1)]

        return VARIABLE.sub(variable, value)
    if isinstance(value, dict):
        return {key: interpolate(item, where, substituted) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, where, substituted) for item in value]
    return value


_local = threading.local()


def session() -> requests.Session:
    """Return this thread's HTTP session (connections are kept alive between deliveries)."""
    if getattr(_local, "session", None) is None or getattr(_local, "pid", None) != os.getpid():
        _local.session, _local.pid = requests.Session(), os.getpid()
        _local.session.headers["User-Agent"] = USER_AGENT
        for scheme in ("http://", "https://"):  # every socket watched by the call's deadline
            _local.session.mount(scheme, httpcall.WatchedAdapter())
    return _local.session


def http_auth(options: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """Return the headers and requests auth of an ``auth = {basic|bearer}`` option."""
    auth = options.get("auth") or {}
    if "bearer" in auth:
        return {"Authorization": f"Bearer {auth['bearer']}"}, None
    if "basic" in auth:
        user, _, password = str(auth["basic"]).partition(":")
        return {}, (user.encode("utf-8"), password.encode("utf-8"))
    return {}, None


def deliver_http(sink: Sink, events: list[dict[str, Any]], delivered: Delivered, pace: Pace = no_pace) -> None:
    """POST each event as JSON, with ``Idempotency-Key: <event_id>``."""
    from receiver.core.parsers import duration_seconds  # the one duration grammar

    substituted: list[str] = []
    options = interpolate(sink.options, f"sink {sink.name!r}", substituted)
    secrets = option_secrets(options, substituted)
    timeout = duration_seconds(str(options.get("timeout", DEFAULT_TIMEOUT))) or 10.0
    auth_headers, auth = http_auth(options)
    headers = {
        **{str(k): str(v) for k, v in (options.get("headers") or {}).items()},
        **auth_headers,
        "Content-Type": "application/json",
    }
    for event in events:
        headers["Idempotency-Key"] = str(event["event_id"])
        pace()
        try:
            status, text, asked = httpcall.post(
                session(),
                options["url"],
                timeout,
                data=json.dumps(event, ensure_ascii=False).encode("utf-8"),
                headers=headers,
                auth=auth,
                allow_redirects=False,
            )
        except NEVER_SENDABLE as exc:
            raise Permanent(redact(f"sink {sink.name!r}: {type(exc).__name__}: {exc}", secrets)) from None
        except requests.Timeout as exc:  # a connect or read timeout, or the whole request's deadline
            raise Unanswered(redact(f"sink {sink.name!r}: {type(exc).__name__}: {exc}", secrets), timeout) from None
        except requests.RequestException as exc:
            raise Retryable(redact(f"sink {sink.name!r}: {type(exc).__name__}: {exc}", secrets)) from None
        wait = httpcall.retry_after(asked) if status in THROTTLE_STATUSES else None
        if wait:
            raise Throttled(
                redact(f"sink {sink.name!r}: HTTP {status} (Retry-After: {wait:g}s): {text}", secrets), wait
            )
        if status in RETRY_STATUSES or status >= 500:
            raise Retryable(redact(f"sink {sink.name!r}: HTTP {status}: {text}", secrets))
        if not 200 <= status < 300:
            raise Permanent(redact(f"sink {sink.name!r}: HTTP {status}: {text}", secrets))
        delivered([event])


_callables: dict[str, Callable[[dict[str, Any]], Any]] = {}


def deliver_python(sink: Sink, events: list[dict[str, Any]], delivered: Delivered, pace: Pace = no_pace) -> None:
    """Call the sink's ``package.module:function`` with each event."""
    target = str(sink.options["callable"])
    if target not in _callables:
        module, _, name = target.partition(":")
        try:
            _callables[target] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise Permanent(f"sink {sink.name!r}: cannot import {target}: {exc}") from None
    for event in events:
        pace()
        try:
            _callables[target](event)
        except Exception as exc:  # the client's code: whatever it raises may pass on a retry
            raise Retryable(f"sink {sink.name!r}: {target} raised {type(exc).__name__}: {exc}") from None
        delivered([event])


def deliver(
    sink: Sink, events: list[dict[str, Any]], data_dir: str, delivered: Delivered, pace: Pace = no_pace
) -> None:
    """Deliver ``events`` to ``sink``, calling ``pace`` before each delivery; raise ``Retryable`` or ``Permanent``."""
    if sink.type == "sql":
        pace()
        substituted: list[str] = []
        options = interpolate(sink.options, f"sink {sink.name!r}", substituted)
        try:
            insert_events(options, events, data_dir)
        except Permanent:
            raise
        except Exception as exc:  # SQLAlchemy's errors, a database that is away: try again later
            said = f"sink {sink.name!r}: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
            raise Retryable(redact(said, option_secrets(options, substituted))) from None
        delivered(events)
    elif sink.type == "http":
        deliver_http(sink, events, delivered, pace)
    else:
        deliver_python(sink, events, delivered, pace)
