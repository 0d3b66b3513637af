"""Quote what a client chose before it goes into a log line, so no input can add fields or lines.

A value made only of safe characters is written as it is; anything else is
written as a JSON string, whose escapes cover control characters, quotes,
spaces and everything beyond ASCII (C1 controls, bidi overrides).
"""

import json

SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./_:-@[]")
MAX_CHARS = 200


def field(value: object) -> str:
    """Return ``value`` as one log field: bare when safe, JSON-quoted otherwise, cut at ``MAX_CHARS``."""
    text = "" if value is None else str(value)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "..."
    if text and all(char in SAFE for char in text):
        return text
    return json.dumps(text, ensure_ascii=True)


def one_line(exc: BaseException) -> str:
    """Return an exception's message on one line, or its type's name when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__
