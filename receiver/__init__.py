"""The Smartech webhook receiver: answer 200 fast, capture every payload, queue it."""

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: Mapping[str, str] | None = None) -> "Flask":
    """Build the Flask app; ``test_config`` overrides environment settings by name."""
    # Imported here so that the worker, which only needs receiver's helpers, never loads Flask.
    from receiver.web.app import build_app

    return build_app(test_config)
