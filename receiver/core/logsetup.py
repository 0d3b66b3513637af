"""Send the receiver's log to stderr, once, in one format: for the web, the worker, the forwarder and the CLI.

It imports nothing but ``logging``, so a worker or the forwarder sets up its
log without loading Flask (``receiver.web.app`` imports this, never the reverse).
Failure policy: never raises.
"""

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOGGER = "receiver"


def configure_logging(level: str) -> None:
    """Send the receiver's log to stderr at ``level``, once."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
