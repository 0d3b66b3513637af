"""Guard every inspector request: the allowlist, then basic auth; and the security headers of every answer.

The checks are the webhook's own (``receiver.core.gate``) with the
inspector's settings: ``DUMPER_INSPECT_ALLOWED_IPS`` and
``DUMPER_INSPECT_AUTH`` (several pairs, for rotation). ``/metrics`` also takes
``DUMPER_METRICS_AUTH``, so Prometheus scrapes with credentials that open no
page of captures. Only ``/healthz`` is open: it says nothing. Every answer carries a strict Content-Security-Policy
(scripts and styles only from our own files, nothing inline), ``nosniff``,
no referrer and no caching, since pages hold customer data.
"""

import logging

from flask import Response, current_app, g, request

from receiver.core import gate
from receiver.core.logsafe import field
from receiver.inspector.scrape import PATH as METRICS_PATH

log = logging.getLogger("receiver.inspector")
OPEN_PATHS = frozenset({"/healthz"})
REALM = 'Basic realm="smartech-dumper inspector", charset="UTF-8"'
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def refuse(code: int, text: str, reason: str, ip: str | None) -> Response:
    """Log a refusal (quoted fields, no secrets) and return its plain answer."""
    log.warning(
        "inspector refused=%d reason=%s client=%s method=%s path=%s",
        code,
        field(reason),
        field(ip),
        field(request.method),
        field(request.path),
    )
    response = Response(text + "\n", code, mimetype="text/plain")
    if code == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


def check() -> Response | None:
    """Refuse a request from outside the allowlist (403) or without the inspector's credentials (401)."""
    if request.path in OPEN_PATHS:
        return None
    settings = current_app.config["SETTINGS"]
    ip = gate.admit_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), settings, settings.inspect_allowed_networks
    )
    if isinstance(ip, gate.Refusal):
        return refuse(ip.code, ip.status, ip.reason, ip.ip)
    credentials = settings.inspect_credentials
    if request.path == METRICS_PATH:
        credentials += settings.metrics_credentials
    user = gate.admit_user(request.headers.get("Authorization"), credentials, ip)
    if isinstance(user, gate.Refusal):
        return refuse(user.code, user.status, user.reason, user.ip)
    g.user = user
    return None


def secure(response: Response) -> Response:
    """Add the security headers to ``response``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
