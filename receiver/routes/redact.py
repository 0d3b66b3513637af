"""Keep a sink's secrets out of every error text: the worker log, ``failed`` and the alerts quote those texts.

A secret is whatever a sink's options can hold that a reader must not see:
each value a ``${VARIABLE}`` brought in, the ``auth`` value, every header
value, the password of a URL and the values of its query string (``?token=…``).
``redact`` replaces each in a text (an exception's message quotes the URL, an
answer may echo a header) by ``***``, longest first, in its plain and its
percent-encoded spelling.

Failure policy: pure, never raises.
"""

from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MASK = "***"


def url_secrets(url: Any) -> list[str]:
    """Return the password and the query values of ``url`` (a string), if any."""
    if not isinstance(url, str):
        return []
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
    except ValueError:  # a port that is not a number: the whole netloc may be a secret
        return [url]
    found += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)]
    return found


def option_secrets(options: dict[str, Any], substituted: list[str]) -> list[str]:
    """Return every secret of a sink's interpolated ``options``; ``substituted`` are the ``${VARIABLE}`` values."""
    found = [value for value in substituted if value]
    auth = options.get("auth")
    if isinstance(auth, dict):
        for value in auth.values():
            found += [str(value), *str(value).partition(":")[2:]]  # "user:pass": the whole, and the password
    headers = options.get("headers")
    if isinstance(headers, dict):
        found += [str(value) for value in headers.values()]
    found += url_secrets(options.get("url"))
    return found


def redact(text: str, secrets: list[str]) -> str:
    """Return ``text`` with every secret (and its percent-encoded forms) replaced by ``***``."""
    spellings = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""), quote_plus(secret))}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, MASK)
    return text
