"""Make values safe to log or print: what a client chose, an error's message, a URL's secrets.

A value made only of safe characters is written as it is; anything else is
written as a JSON string, whose escapes cover control characters, quotes,
spaces and everything beyond ASCII (C1 controls, bidi overrides). A URL is
shown without its password and its query values. Nothing here raises.
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


MASK = "***"


def redacted_url(url: str) -> str:
    """Return ``url`` with its password and query values as ``***``; a URL that does not parse is masked too."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, place = rest.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":" + MASK
    place, question, query = place.partition("?")
    if question:
        query = "&".join(pair.partition("=")[0] + ("=" + MASK if "=" in pair else "") for pair in query.split("&"))
    return f"{scheme}{sep}{userinfo}{at}{place}{question}{query}"
