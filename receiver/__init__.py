"""The Smartech webhook receiver: answer 200 fast, capture every payload, queue it."""


def create_app(test_config=None):
    """Build the Flask app; ``test_config`` overrides environment settings by name."""
    # Imported here so that the worker, which only needs receiver's helpers, never loads Flask.
    from .app import build_app

    return build_app(test_config)
