"""The web inspector: a read-only Flask app that shows the captures of the data dir, live, in a browser.

It runs as a process of its own (``smartech-dumper inspect``, under gunicorn),
so the webhook's hot path and its allowlist never see it. It reads the data
files through ``receiver.store``, the CLI's own library.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, str] | None = None) -> "Flask":
    """Build the inspector app; ``test_config`` overrides environment settings by name."""
    from receiver.inspector.app import build_app

    return build_app(test_config)
