"""Check that a sink of the routes file can deliver at all: what ``routes check`` refuses before a delivery fails.

Each check looks at one sink type's options as the file writes them, before
``${VARIABLE}`` interpolation: a part that holds a variable is checked only as
far as it can be (an http URL that is all a variable has no scheme to check).
Failure policy: ``check_sink`` raises ``SinkProblem`` naming the key and what
is wrong; ``config.read_sink`` adds the file and the sink. It never connects
anywhere (the sql check imports the SQLAlchemy dialect and its driver only).
"""

import re
from typing import Any
from urllib.parse import urlsplit

from receiver.core.parsers import duration_seconds

HTTP_SCHEMES = ("http", "https")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # as sinks.py interpolates them
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POSTGRES_DRIVER = "postgresql+psycopg://"  # the driver we ship (psycopg 3)
STAND_IN = "x"  # what a ${VARIABLE} stands for while a URL is parsed


class SinkProblem(ValueError):
    """A sink option can never deliver; the message starts with the key."""


def has_variable(text: str) -> bool:
    """Say whether ``text`` holds a ``${VARIABLE}``."""
    return VARIABLE.search(text) is not None


def check_http_url(url: Any) -> None:
    """An http sink's url: a string, ``http://`` or ``https://`` with a host (unless a variable gives them)."""
    if not isinstance(url, str) or not url.strip():
        raise SinkProblem("url: an http sink needs a url, as a string")
    scheme, found, _ = url.partition("://")
    if has_variable(scheme):
        return
    parts = urlsplit(VARIABLE.sub(STAND_IN, url))
    if not found or parts.scheme.lower() not in HTTP_SCHEMES:
        shown = f"{scheme_of(url)!r} is not" if found else "no scheme: expected"
        raise SinkProblem(f"url: {shown} http:// or https://")
    if not parts.hostname:
        raise SinkProblem("url: no host")


def scheme_of(url: str) -> str:
    """Return the scheme part of ``url`` for a message (never the rest: it may hold a secret)."""
    return url.partition("://")[0] + "://" if "://" in url else url.partition(":")[0] + ":"


def check_headers(headers: Any) -> None:
    """An http sink's headers: a table of token names and one-line values."""
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise SinkProblem('headers: expected a table, like headers = { "X-Task-Type" = "hot-lead" }')
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise SinkProblem(f"headers: {name!r} is not a header name")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise SinkProblem(f"headers.{name}: expected a string")
        if any(char in str(value) for char in "\r\n\0"):
            raise SinkProblem(f"headers.{name}: a header value is one line")


def check_auth(auth: Any) -> None:
    """An http sink's auth: ``{basic = "user:pass"}`` or ``{bearer = "token"}``."""
    if auth is None:
        return
    if not (isinstance(auth, dict) and len(auth) == 1 and set(auth) <= {"basic", "bearer"}):
        raise SinkProblem('auth: expected {basic = "user:pass"} or {bearer = "token"}')
    ((kind, value),) = auth.items()
    if not isinstance(value, str) or not value:
        raise SinkProblem(f"auth.{kind}: expected a string")
    if kind == "basic" and ":" not in value and not has_variable(value):
        raise SinkProblem('auth.basic: expected "user:password"')
    if any(char in value for char in "\r\n\0"):
        raise SinkProblem(f"auth.{kind}: must be one line")


def check_timeout(timeout: Any) -> None:
    """An http sink's timeout: one positive duration."""
    seconds = duration_seconds(str(timeout))
    if isinstance(timeout, bool) or seconds is None or seconds <= 0:
        raise SinkProblem(f"timeout: bad duration {timeout!r} (like 30s, 15m, 2h, 7d, 2w)")


def with_driver(url: str) -> str:
    """Give a plain ``postgresql://`` or ``postgres://`` URL the psycopg driver; return other URLs unchanged."""
    for scheme in POSTGRES_SCHEMES:
        if url[: len(scheme)].lower() == scheme:
            return POSTGRES_DRIVER + url[len(scheme) :]
    return url


def check_sql(table: dict[str, Any]) -> None:
    """A sql sink's url (a SQLAlchemy URL whose dialect and driver are installed) and table name."""
    if "table" in table and (not isinstance(table["table"], str) or not table["table"].strip()):
        raise SinkProblem("table: expected a table name, as a string")
    url = table.get("url")
    if url is None:
        return
    if not isinstance(url, str) or not url.strip():
        raise SinkProblem("url: expected a SQLAlchemy URL, as a string (like postgresql://user:pass@host/db)")
    if has_variable(url.partition("://")[0]):
        return
    from sqlalchemy.engine import make_url  # only for a sql sink

    try:
        parsed = make_url(with_driver(VARIABLE.sub(STAND_IN, url)))
    except Exception:  # noqa: BLE001 - SQLAlchemy's ArgumentError, ValueError: either way not a URL
        raise SinkProblem(
            f"url: {scheme_of(url)!r}… is not a SQLAlchemy URL (like postgresql://user:pass@host/db)"
        ) from None
    try:
        parsed.get_dialect().import_dbapi()
    except Exception as exc:  # noqa: BLE001 - NoSuchModuleError, ImportError: nothing here can talk to it
        raise SinkProblem(
            f"url: no SQLAlchemy dialect and driver {parsed.drivername!r} installed ({type(exc).__name__})"
        ) from None


def check_sink(kind: str, table: dict[str, Any]) -> None:
    """Raise ``SinkProblem`` if a sink of ``kind`` with these options can never deliver."""
    if kind == "http":
        check_http_url(table.get("url"))
        check_headers(table.get("headers"))
        check_auth(table.get("auth"))
        if "timeout" in table:
            check_timeout(table["timeout"])
    elif kind == "sql":
        check_sql(table)
    elif kind == "python" and (not isinstance(table.get("callable"), str) or ":" not in table["callable"]):
        raise SinkProblem("callable: expected 'package.module:function'")
