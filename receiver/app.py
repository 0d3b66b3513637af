"""Build the Flask app from validated settings (the application factory)."""
import logging

from flask import Flask

from . import forwarder, queueing, settings as settings_mod, status, views
from .breaker import Breaker

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level):
    """Send the receiver's log to stderr at ``level``, once."""
    logger = logging.getLogger("receiver")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False


def build_app(test_config=None):
    """Return the receiver app; ``test_config`` overrides environment settings by name."""
    settings = settings_mod.load(overrides=test_config).require_web()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    # We read bodies ourselves (see body.py); Flask must not truncate or buffer them.
    app.config.update(SETTINGS=settings, QUEUE=queueing.get_queue(settings), REDIS_BREAKER=Breaker(),
                      MAX_CONTENT_LENGTH=None)
    app.url_map.converters["source"] = views.SourceConverter
    app.register_blueprint(views.bp)
    if settings.forwarder:
        forwarder.start_background(settings, observer=status.alert_observer(settings))
    return app
