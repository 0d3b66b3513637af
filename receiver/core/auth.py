"""Check HTTP Basic credentials: a pure function, independent of Flask.

Passwords are compared in constant time and never logged or returned. Any
header that is not well-formed Basic (bytes that are not ASCII, base64 that
is not, text that is not UTF-8, no colon) is simply no credential: a 401.
"""

import base64
import binascii
import hmac
from collections.abc import Iterable

SCHEME = "basic"


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` from an Authorization header, or None if it is not Basic."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != SCHEME or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: a header of non-ASCII bytes; UnicodeDecodeError is one
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


def authenticate(header: str | None, credentials: Iterable[tuple[str, str]]) -> str | None:
    """Return the user name if ``header`` matches one of ``credentials``, else None."""
    given = parse_basic(header)
    if given is None:
        return None
    user, password = given
    matched = None
    # Check every pair, so the time taken does not tell which user exists.
    for known_user, known_password in credentials:
        user_ok = hmac.compare_digest(user.encode("utf-8"), known_user.encode("utf-8"))
        password_ok = hmac.compare_digest(password.encode("utf-8"), known_password.encode("utf-8"))
        if user_ok and password_ok:
            matched = known_user
    return matched
