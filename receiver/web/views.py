"""Serve the webhook endpoints: check, capture, enqueue, answer.

The caller gets generic answers; the log gets the details, tagged with the
request id, each value a client chose quoted (``logsafe``). The hot path
writes the capture to disk and answers: it never waits for Redis. Only if the
disk fails does it enqueue directly. The only 5xx is 503: neither disk nor
Redis took a payload, or something unforeseen broke (logged with its
traceback). A refusal closes the connection, so nobody keeps a server
reading a body it will not take.
"""

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from receiver.capture import record as capture
from receiver.core import gate, ids
from receiver.core import queues as queueing
from receiver.core.logsafe import field
from receiver.core.settings import Settings
from receiver.forwarder import enqueue
from receiver.metrics import counters
from receiver.web import refused, runtime, write
from receiver.web.body import BodyIncomplete, BodyMalformed, BodyTimeout, BodyTooLarge, read_body

log = logging.getLogger("receiver")
bp = Blueprint("webhook", __name__)
PROBE_METHODS = ("GET", "HEAD")
WEBHOOK_METHODS = ["GET", "HEAD", "POST"]
REALM = 'Basic realm="smartech-dumper", charset="UTF-8"'
ACCEPTED = '{"status":"accepted","id":"%s"}\n'
DAY_ATTEMPTS = 2  # a second day change within one request cannot happen


class SourceConverter(BaseConverter):
    """Match a webhook source name; anything else is a 404."""

    regex = r"[A-Za-z0-9_-]{1,64}"


def answer(status: str, code: int, **extra: Any) -> Response:
    """Return a small JSON answer."""
    response = jsonify(status=status, **extra)
    response.status_code = code
    return response


def refuse(code: int, status: str, reason: str, ip: str | None) -> Response:
    """Log a refusal without secrets and return its generic answer."""
    request_id = ids.new_id()  # a tag for the log line; a refused request has no capture
    log.warning(
        "request_id=%s refused=%d reason=%s client=%s method=%s path=%s",
        request_id,
        code,
        field(reason),
        field(ip),
        field(request.method),
        field(request.path),
    )
    response = answer(status, code)
    if code == 401:
        response.headers["WWW-Authenticate"] = REALM
    # The body of a refused request is not read: close, so the server does not keep reading it for us.
    response.headers["Connection"] = "close"
    return response


@bp.route("/healthz", methods=["GET", "HEAD"])
def healthz() -> Response:
    """Answer liveness probes without touching anything slow."""
    return answer("ok", 200)


# No redirects, ever: a redirect is no answer for a POST, and Werkzeug would build its Location from
# the Host header (see merge_slashes and redirect_defaults in app.py).
# And no automatic OPTIONS: it would answer 200 before the allowlist and auth; unknown methods get a 405.
@bp.route(
    "/webhook",
    defaults={"source": capture.DEFAULT_SOURCE},
    methods=WEBHOOK_METHODS,
    strict_slashes=False,
    provide_automatic_options=False,
)
@bp.route("/webhook/<source:source>", methods=WEBHOOK_METHODS, strict_slashes=False, provide_automatic_options=False)
@counters.observed  # acks by status code and their latency (docs/metrics.md); never changes the answer
def webhook(source: str) -> Response:
    """Capture an authenticated POST and answer 200; answer probes with 200 too."""
    settings = current_app.config["SETTINGS"]
    ip = gate.admit_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), settings, settings.allowed_networks
    )
    if isinstance(ip, gate.Refusal):
        return refuse(ip.code, ip.status, ip.reason, ip.ip)
    if request.method in PROBE_METHODS:
        return answer("ok", 200)
    user: str | None = None
    if not settings.auth_disabled:
        admitted = gate.admit_user(request.headers.get("Authorization"), settings.credentials, ip)
        if isinstance(admitted, gate.Refusal):
            if settings.quarantine and request.method == "POST":
                refused.keep_refused(settings, source, ip, admitted.reason)  # never raises: the 401 stays
            return refuse(admitted.code, admitted.status, admitted.reason, admitted.ip)
        user = admitted
    try:
        body = read_body(request.environ, settings.max_bytes, settings.body_timeout)
    except BodyTooLarge as exc:
        return refuse(413, "too large", f"body over {settings.max_bytes} bytes ({exc})", ip)
    except BodyIncomplete as exc:
        return refuse(400, "incomplete", f"body ended after {exc} bytes", ip)
    except BodyMalformed as exc:
        return refuse(400, "bad request", f"broken body framing ({exc})", ip)
    except BodyTimeout:
        return refuse(408, "timeout", f"body not received within {settings.body_timeout:g}s", ip)
    # The id, and so the day file, is chosen now that the body is in: a body that trickled in
    # across midnight belongs to the new day. It is also the request id of the log lines.
    delivery = capture.new_delivery(
        ids.new_id(),
        source,
        ip,
        request.method,
        request.path,
        request.headers.get("Content-Type"),
        user,
        body,
        request.environ.get("QUERY_STRING", ""),
    )
    return accept(settings, delivery)


def accept(settings: Settings, delivery: capture.Delivery) -> Response:
    """Store the delivery on disk (the forwarder queues it later); fall back to Redis if the disk fails."""
    for _ in range(DAY_ATTEMPTS):
        record = capture.to_record(delivery)
        try:
            write.write(settings, record, delivery.received_at, runtime.current().committer)
        except write.DayClosed:
            delivery = capture.renewed(delivery)  # we stalled past the day's deadline: today it is
            continue
        except (OSError, ValueError) as exc:  # ValueError: a data dir path the OS cannot take
            log.error("request_id=%s capture write failed: %s", delivery.id, exc)
            break
        return accepted(delivery)
    if enqueue_directly(settings, capture.to_record(delivery)):
        return accepted(delivery)
    log.critical("request_id=%s LOST: neither disk nor Redis took the payload", delivery.id)
    return answer("unavailable", 503)


def accepted(delivery: capture.Delivery) -> Response:
    """Return the 200 that names the capture id."""
    # Formatted by hand: jsonify costs more than the rest of a small request (ids are [0-9A-Z]).
    return Response(ACCEPTED % delivery.id, 200, mimetype="application/json")


def enqueue_directly(settings: Settings, record: dict[str, Any]) -> bool:
    """Enqueue the job itself, unless Redis failed moments ago; return True if Redis took it."""
    breaker = runtime.current().breaker
    if not breaker.allow():
        return False
    try:
        enqueue.enqueue_capture(runtime.current().queue, record, settings)
    except queueing.REDIS_ERRORS as exc:
        breaker.failed()
        log.error("request_id=%s enqueue failed: %s", record["id"], exc)
        return False
    breaker.succeeded()
    log.warning("request_id=%s held by Redis only: it is not in the captures file", record["id"])
    return True


@bp.route("/readyz", methods=["GET"])
def readyz() -> Response:
    """Report Redis, queue, retries, dead letters, backlog, forwarder and disk; 503 when not ready."""
    state = runtime.current().readiness.get()
    response = jsonify(state)
    response.status_code = 200 if state["ready"] else 503
    return response


def http_error(error: HTTPException) -> Response:
    """Answer a routing error (404, 405) in JSON, and close a connection whose body we will not read."""
    assert error.code is not None  # Flask answers a code-less HTTPException (a proxy) itself, never through us
    response = answer(error.name.lower(), error.code)
    for name, value in error.get_headers():
        if name == "Allow":
            response.headers[name] = value
    response.headers["Connection"] = "close"
    return response


def unforeseen(error: Exception) -> Response:
    """Answer anything unforeseen with the documented 503 (Smartech retries it), and log it in full."""
    if isinstance(error, HTTPException):
        return http_error(error)
    log.exception("request_id=%s unforeseen error answered 503: %s", ids.new_id(), type(error).__name__)
    response = answer("unavailable", 503)
    response.headers["Connection"] = "close"
    return response
