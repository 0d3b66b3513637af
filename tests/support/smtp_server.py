"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that keeps every message it receives."""

import email
import email.policy
import os
import ssl
import subprocess
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from receiver.procs.stack import free_port

HOST = "127.0.0.1"


class Inbox:
    """Collect what the server accepts: envelope recipients and parsed messages."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        """Keep the message and accept it."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    @property
    def messages(self):
        """Return the parsed messages, oldest first."""
        return [message for _, _, message in self.received]


class Logins:
    """Accept exactly one user and password, and remember every attempt (decoded)."""

    def __init__(self, user, password):
        self.expected = (user, password)
        self.attempts = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        """Check one LOGIN or PLAIN attempt."""
        attempt = (auth_data.login.decode(), auth_data.password.decode())
        self.attempts.append(attempt)
        return AuthResult(success=attempt == self.expected, handled=False)  # the server answers 535


@contextmanager
def smtp_server(port=None, **options):
    """Run an SMTP server on 127.0.0.1 while the block runs; yield ``(port, inbox)``."""
    inbox = Inbox()
    port = port or free_port()
    controller = Controller(inbox, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def self_signed_context(directory):
    """Return a server TLS context with a fresh self-signed certificate no client trusts."""
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
