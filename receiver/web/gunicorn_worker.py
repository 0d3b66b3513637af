"""gunicorn's gevent worker, keeping its own answers inside our contract.

gunicorn answers 501 to a request whose Transfer-Encoding it does not know,
before the app runs. That is the client's broken framing, and our contract
keeps 5xx for 503 only, so it answers 400 instead; everything else is
gunicorn's own behaviour.
"""

import socket

from gunicorn.http import Request
from gunicorn.http.errors import InvalidHeader, UnsupportedTransferCoding
from gunicorn.workers.ggevent import GeventWorker

# Where a client connected from, as gunicorn says it: a unix socket path, a file descriptor or (host, port).
Address = str | int | tuple[str, int]


class Worker(GeventWorker):
    """A GeventWorker that answers 400, not 501, to an unknown Transfer-Encoding."""

    def handle_error(self, req: Request | None, client: socket.socket, addr: Address, exc: BaseException) -> None:
        """Answer a request gunicorn could not parse; an unknown Transfer-Encoding is a bad header."""
        if isinstance(exc, UnsupportedTransferCoding):
            exc = InvalidHeader("Transfer-Encoding", req=req)
        return super().handle_error(req, client, addr, exc)
