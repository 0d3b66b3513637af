"""Read a request body whole, or refuse it: never a silently truncated body.

Werkzeug cuts a chunked body at MAX_CONTENT_LENGTH without saying so; we read
the WSGI input ourselves and raise ``BodyTooLarge`` past the limit instead.
Under gevent (the receiver's worker class) the whole body must arrive within
the timeout, so a client trickling a body a byte a second gives up its
connection; other servers keep only their own socket timeouts.
"""

import contextlib
from wsgiref.types import InputStream, WSGIEnvironment

CHUNK_SIZE = 64 * 1024


class BodyTimeout(Exception):
    """The body did not arrive in time."""


class BodyTooLarge(Exception):
    """The body is larger than the configured limit."""


class BodyIncomplete(Exception):
    """The client sent less than its Content-Length before the stream ended."""


class BodyMalformed(Exception):
    """The body's framing is broken (a bad or cut-off chunked encoding)."""


def declared_length(environ: WSGIEnvironment) -> int | None:
    """Return the Content-Length as an int, or None when absent or malformed."""
    value = environ.get("CONTENT_LENGTH", "")
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


def deadline(seconds: float) -> contextlib.AbstractContextManager[object]:
    """Return a context that raises ``BodyTimeout`` after ``seconds`` under gevent, or does nothing."""
    try:
        from gevent import Timeout, monkey
    except ImportError:
        return contextlib.nullcontext()
    if not monkey.is_module_patched("socket"):
        return contextlib.nullcontext()
    return Timeout(seconds, BodyTimeout(seconds))


def read_body(environ: WSGIEnvironment, max_bytes: int, timeout: float | None = None) -> bytes:
    """Return the whole body as bytes; raise ``BodyTooLarge`` past ``max_bytes``, ``BodyTimeout`` after ``timeout``."""
    if timeout is None:
        return read_whole(environ, max_bytes)
    with deadline(timeout):
        return read_whole(environ, max_bytes)


def read_whole(environ: WSGIEnvironment, max_bytes: int) -> bytes:
    """Return the whole body as bytes; raise ``BodyTooLarge`` past ``max_bytes``, ``BodyMalformed`` for bad framing."""
    try:
        return read_stream(environ, max_bytes)
    except (BodyTooLarge, BodyIncomplete):
        raise
    except Exception as exc:  # the server's parser refused the framing (gunicorn: InvalidChunkSize, NoMoreData…)
        raise BodyMalformed(f"{type(exc).__name__}: {exc}") from None


def read_stream(environ: WSGIEnvironment, max_bytes: int) -> bytes:
    """Return the whole body as bytes; raise ``BodyTooLarge`` past ``max_bytes``."""
    stream = environ["wsgi.input"]
    length = declared_length(environ)
    if length is not None:
        if length > max_bytes:
            raise BodyTooLarge(length)
        return read_exactly(stream, length)
    if not environ.get("wsgi.input_terminated"):
        # Without a length or a server that ends the stream, reading could block forever.
        return b""
    return read_until_eof(stream, max_bytes)


def read_exactly(stream: InputStream, length: int) -> bytes:
    """Read ``length`` bytes, raising ``BodyIncomplete`` if the stream ends early."""
    parts, remaining = [], length
    while remaining > 0:
        chunk = stream.read(min(remaining, CHUNK_SIZE))
        if not chunk:
            raise BodyIncomplete(length - remaining)
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def read_until_eof(stream: InputStream, max_bytes: int) -> bytes:
    """Read a terminated stream to its end, raising ``BodyTooLarge`` past ``max_bytes``."""
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > max_bytes:
            raise BodyTooLarge(total)
        parts.append(chunk)
