"""Build the Flask app from validated settings (the application factory).

``create_app`` only builds: it starts no thread and opens no connection. The
live objects of a process (``runtime.WebRuntime``) are made on first use, so
they are made in the process that serves (after gunicorn forks and gevent
patches), and ``--preload`` stays safe.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from flask import Flask

from receiver.core import settings as settings_mod
from receiver.core.logsetup import configure_logging
from receiver.web import views
from receiver.web.runtime import EXTENSION, WebRuntime

if TYPE_CHECKING:
    from _typeshed import OptExcInfo


def closing(wsgi_app: WSGIApplication) -> WSGIApplication:
    """Wrap ``wsgi_app`` so that a response saying ``Connection: close`` really closes the connection.

    gunicorn drops an application's Connection header (it is hop-by-hop) and would keep the
    connection, reading the refused request's whole body before the next one; its own Response
    object, whose bound ``start_response`` we are handed, can be told to close instead.
    """

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(
            status: str, headers: list[tuple[str, str]], exc_info: "OptExcInfo | None" = None
        ) -> Callable[[bytes], object]:
            if any(name.lower() == "connection" and value.lower() == "close" for name, value in headers):
                force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
                if force_close is not None:
                    force_close()
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return app


def build_app(test_config: Mapping[str, str] | None = None) -> Flask:
    """Return the receiver app; ``test_config`` overrides environment settings by name."""
    settings = settings_mod.load(overrides=test_config).require_web()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    # We read bodies ourselves (see body.py); Flask must not truncate or buffer them.
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=None)
    app.extensions[EXTENSION] = WebRuntime(settings)
    app.url_map.converters["source"] = views.SourceConverter
    # `/webhook//a` must be a 404 and `/webhook/default` a capture, never a redirect built from the Host header.
    app.url_map.merge_slashes = False
    app.url_map.redirect_defaults = False
    app.register_blueprint(views.bp)
    app.register_error_handler(Exception, views.unforeseen)
    app.wsgi_app = closing(app.wsgi_app)  # type: ignore[method-assign, assignment]  # Flask's way to wrap it
    return app
