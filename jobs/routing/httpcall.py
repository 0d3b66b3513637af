"""One POST of the http sink, bounded as a whole: connect to last byte within the sink's ``timeout``.

requests' ``timeout`` bounds each socket operation, not the request: a target
that sends its answer a byte every 2 s never trips a 3 s timeout, and held a
worker until RQ's job timeout. So each call runs under a ``Deadline``: every
socket the sink's session opens or reuses is registered with it, and a timer
shuts them down when the deadline passes, which ends any connect, write or
read in progress with an error; the connect and read timeouts given to
requests are never above what is left. The answer is streamed, and at most its
first ``ANSWER_PREVIEW`` bytes are read (a 200 MiB error body took the worker
from 120 to 452 MB of RSS when requests read it whole); an answer longer than
that closes its connection, one read to its end goes back to the pool.

Failure policy: ``post`` raises ``WholeRequestTimeout`` (a ``requests.Timeout``)
when the deadline cut the call, requests' own exceptions otherwise; a failure
while reading the preview keeps what was read and never raises.
"""

import email.utils
import socket
import threading
import time
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

ANSWER_PREVIEW = 1024  # bytes of an answer kept (and read) for the dead letters and the log
_local = threading.local()


class WholeRequestTimeout(requests.Timeout):
    """The whole request did not end within the sink's timeout."""


def shut(sock: Any) -> None:
    """Shut a socket down for both directions (what ends a blocked recv), ignoring one already gone."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the fd's own, also under a TLS wrapper
    except (OSError, TypeError):
        pass


class Deadline:
    """A point in time after which every socket watched by this thread's call is shut down."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.expired = False
        self.sockets: list[Any] = []
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True

    def left(self) -> float:
        """Return the seconds left, never less than a millisecond (requests refuses 0)."""
        return max(0.001, self.at - time.monotonic())

    def watch(self, sock: Any) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        with self.lock:
            self.sockets.append(sock)
            if self.expired:
                shut(sock)

    def expire(self) -> None:
        """The timer's end: shut every watched socket down."""
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                shut(sock)

    def __enter__(self) -> "Deadline":
        _local.deadline = self
        self.timer.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.timer.cancel()
        with self.lock:
            self.sockets.clear()  # a socket of the pool outlives the call; never shut it later
        _local.deadline = None


def watch(sock: Any) -> None:
    """Register ``sock`` with the running call's deadline, if any."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _Watched:
    """Mixed into urllib3's connections: each socket they open, wrap or reuse is watched."""

    sock: Any

    def _new_conn(self) -> Any:
        sock = super()._new_conn()  # type: ignore[misc]
        watch(sock)  # the plain socket: covers the connect's end and, under TLS, the handshake's start
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        watch(self.sock)  # under TLS, the wrapped socket

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch(self.sock)  # a kept-alive connection reused from the pool (None before its first connect)
        super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections are watched by the running call's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}


def preview(answer: requests.Response) -> str:
    """Read at most ``ANSWER_PREVIEW`` bytes of a streamed answer, close it, and return them as text."""
    parts: list[bytes] = []
    try:
        while sum(map(len, parts)) <= ANSWER_PREVIEW:
            chunk = answer.raw.read(ANSWER_PREVIEW + 1 - sum(map(len, parts)), decode_content=True)
            if not chunk:
                break  # the end: urllib3 gave the connection back to the pool
            parts.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError, ValueError):
        pass  # what was read is the preview
    finally:
        answer.close()  # the rest unread: the connection is closed, never reused
    return b"".join(parts)[:ANSWER_PREVIEW].decode(answer.encoding or "utf-8", "replace")


def post(session: requests.Session, url: str, seconds: float, **options: Any) -> tuple[int, str, str | None]:
    """POST within ``seconds`` all told; return the status, the answer's first KiB as text, and its Retry-After."""
    with Deadline(seconds) as deadline:
        try:
            answer = session.post(url, timeout=(deadline.left(), deadline.left()), stream=True, **options)
            return answer.status_code, preview(answer), answer.headers.get("Retry-After")
        except requests.RequestException:
            if deadline.expired:
                raise WholeRequestTimeout(f"no complete answer within {seconds:g}s (the sink's timeout)") from None
            raise
        finally:
            if deadline.expired:
                session.close()  # its pooled sockets may be the ones shut down


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the seconds a Retry-After header asks for (a number of seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
