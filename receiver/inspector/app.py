"""Build the inspector's Flask app from validated settings; it starts nothing and opens nothing.

Every response passes the guard (allowlist, basic auth, security headers).
Templates are always autoescaped; values from captures also go through the
``visible`` filter, which shows control and format characters as escapes,
as the CLI prints them. The Redis client is made on first use, in the
process that serves.
"""

import logging
from collections.abc import Mapping
from functools import cached_property

import redis
from flask import Flask, Response

from receiver.core import queues as queueing
from receiver.core import settings as settings_mod
from receiver.core.logsetup import configure_logging
from receiver.core.settings import Settings
from receiver.inspector import api, customers, guard, pages, waitlist
from receiver.inspector import scrape as metrics_view
from receiver.store.masking import Mask
from receiver.store.safetext import escape

EXTENSION = "smartech_dumper_inspector"
log = logging.getLogger("receiver.inspector")


class InspectorRuntime:
    """Hold one process's live objects, each made on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def redis(self) -> redis.Redis:
        """Return a Redis client that fails fast (it connects on its first command)."""
        return queueing.connect(self.settings)


def not_found(error: Exception) -> tuple[str, int]:
    """Answer an unknown path with a short page."""
    return "not found\n", 404


def unforeseen(error: Exception) -> Response:
    """Answer anything unforeseen with a plain 500, logged with its traceback."""
    if hasattr(error, "code") and hasattr(error, "get_response"):
        return error.get_response()  # an HTTPException (405, 400): Werkzeug's own answer
    log.exception("inspector: unforeseen error")
    return Response("internal error (see the inspector's log)\n", 500, mimetype="text/plain")


def build_app(test_config: Mapping[str, str] | None = None) -> Flask:
    """Return the inspector app; ``test_config`` overrides environment settings by name."""
    settings = settings_mod.load(overrides=test_config).require_inspect()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=0, JSON_SORT_KEYS=False)
    app.config["MASK"] = None if settings.inspect_unmask else Mask(settings.mask_fields)  # docs/privacy.md
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.jinja_env.filters["visible"] = escape
    app.jinja_env.filters["visible_block"] = lambda value: escape(value, multiline=True)
    app.extensions[EXTENSION] = InspectorRuntime(settings)
    app.before_request(guard.check)
    app.after_request(guard.secure)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(waitlist.bp)  # GET /undelivered (docs/inspector.md)
    app.register_blueprint(customers.bp)  # /customers/<id>: a customer's timeline (docs/privacy.md)
    app.register_blueprint(metrics_view.bp)  # GET /metrics for Prometheus (docs/metrics.md)
    app.register_error_handler(404, not_found)
    app.register_error_handler(Exception, unforeseen)
    return app
