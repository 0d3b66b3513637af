"""The webhook app: check, read, write, answer 200; gunicorn's config and worker class.

``create_app`` imports Flask only when called, so importing this package (for
``receiver.web.gunicorn_conf``, say) loads nothing of the web.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, str] | None = None) -> "Flask":
    """Build the webhook's Flask app; ``test_config`` overrides environment settings by name."""
    from receiver.web.app import build_app

    return build_app(test_config)
