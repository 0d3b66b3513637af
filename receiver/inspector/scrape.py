"""Serve ``GET /metrics`` on the web inspector, behind its guard (``receiver/inspector/guard.py``).

The guard lets ``DUMPER_METRICS_AUTH`` (Prometheus's own credentials) in on
this path only, beside ``DUMPER_INSPECT_AUTH``, and applies the inspector's
allowlist to both. The webhook's own port has no such route: it answers 404.
Failure policy: as ``exposition``; an unforeseen error is the inspector's 500.
"""

from flask import Blueprint, Response, current_app

from receiver.metrics import exposition

PATH = "/metrics"
bp = Blueprint("metrics", __name__)


@bp.route(PATH, methods=["GET"])
def metrics() -> Response:
    """Answer with the exposition text of every metric."""
    runtime = current_app.extensions["smartech_dumper_inspector"]
    body = exposition.render(current_app.config["SETTINGS"], runtime.redis)
    return Response(body, 200, content_type=exposition.CONTENT_TYPE)
