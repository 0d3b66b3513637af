"""Sink targets for the routing tests: callables for the python sink (``tests.support.sink_targets:NAME``), and
raw TCP servers for the http sink that never answer, trickle their answer, or answer with a huge error."""

import socket
import ssl
import threading

RECEIVED = []  # every event ``record`` was called with, in order
FAIL_ON = set()  # event ids ``record`` raises on
HUGE_CHUNK = 1 << 20


class TargetFailed(RuntimeError):
    """What ``record`` raises for an event id in ``FAIL_ON``."""


def record(event):
    """Keep ``event``, or raise for an id in ``FAIL_ON`` (once: a retry then succeeds)."""
    if event["event_id"] in FAIL_ON:
        FAIL_ON.discard(event["event_id"])
        raise TargetFailed(f"refused {event['event_id']}")
    RECEIVED.append(event)


class RawTarget:
    """A TCP server on a free port that reads each request and then, by ``mode``:

    - ``silent``: never answers (the connection stays open until the test ends);
    - ``trickle``: sends an answer one byte each ``every`` seconds, so no single read waits that long;
    - ``huge-error``: answers ``500`` with a body of ``size`` bytes.

    With ``tls=(cert, key)`` it speaks HTTPS.
    """

    def __init__(self, mode, every=1.0, size=200 << 20, tls=None):
        self.mode, self.every, self.size = mode, every, size
        self.connections = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.tls = None
        if tls:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}/tasks"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            try:
                if self.tls:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                conn.recv(65536)  # the request (one small event)
                if self.mode == "trickle":
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                        if self.stop.wait(self.every):
                            return
                        conn.sendall(bytes([byte]))
                elif self.mode == "huge-error":
                    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n" % self.size)
                    chunk = b"x" * HUGE_CHUNK
                    for _ in range(self.size // HUGE_CHUNK):
                        conn.sendall(chunk)
                self.stop.wait()
            except OSError:  # the sink gave up and closed: what the tests want
                return

    def close(self):
        self.stop.set()
        self.listener.close()
