"""Slow clients: connections that trickle their headers or their body a byte a second."""

import base64
import socket
import threading

from tests.support.helpers import PASSWORD, USER
from tests.support.procs import FORM


class SlowClients:
    """Hold ``count`` connections open: half trickle headers, half trickle a declared body, a byte a second."""

    def __init__(self, port, count):
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.trickle, args=(port, i % 2 == 0), daemon=True) for i in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def trickle(self, port, headers):
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                if headers:
                    data = b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100
                else:
                    sock.sendall(
                        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: "
                        + FORM["Content-Type"].encode()
                        + b"\r\nContent-Length: 100\r\nAuthorization: Basic "
                        + base64.b64encode(f"{USER}:{PASSWORD}".encode())
                        + b"\r\n\r\n"
                    )
                    data = b"d" * 100
                for byte in data:
                    if self.stop.wait(1.0):
                        return
                    sock.send(bytes([byte]))
        except OSError:
            pass  # the server gave up on us: that is allowed

    def close(self):
        self.stop.set()
