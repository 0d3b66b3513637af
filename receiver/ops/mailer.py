"""Send one plain-text e-mail through the SMTP server named by a URL.

``smtp://[user:pass@]host[:port]`` speaks plain SMTP (port 25) and upgrades
with STARTTLS whenever the server offers it; ``smtps://`` uses TLS from the
first byte (port 465). Certificates are always verified. User and password
are URL-decoded and used to log in.

Failure policy: every failure (bad URL, refused connection, timeout, TLS,
login, every recipient rejected) raises ``MailError`` with a one-line reason
that never holds the password; recipients refused while others were accepted
are returned, not raised, so a retry never mails the accepted ones twice.
A password is never sent unencrypted to another host: without TLS it goes
only to a loopback address.
"""

import ipaddress
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import SplitResult, unquote, urlsplit

from receiver.core.logsafe import one_line

DEFAULT_TIMEOUT = 10
SMTP_PORT = 25
SMTPS_PORT = 465
LOOPBACK_NAMES = {"localhost"}


class MailError(RuntimeError):
    """A message could not be handed to the SMTP server."""


def is_loopback(host: str) -> bool:
    """Return True if ``host`` names this machine (localhost or a loopback address)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint(parts: SplitResult) -> tuple[str, int]:
    """Return the ``(host, port)`` to connect to; raise ``MailError`` if the URL has none."""
    port: int | None
    try:
        port = parts.port or (SMTPS_PORT if parts.scheme == "smtps" else SMTP_PORT)
    except ValueError:
        port = None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or port is None:
        raise MailError(
            f"not an smtp://host[:port] or smtps://host[:port] URL: {parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        )
    return parts.hostname, port


def where(parts: SplitResult) -> str:
    """Return ``scheme://host:port`` of the URL, without credentials, for messages."""
    host, port = endpoint(parts)
    return f"{parts.scheme}://{host}:{port}"


def build_message(sender: str, recipients: Sequence[str], subject: str, body: str) -> EmailMessage:
    """Return the ``EmailMessage`` to send."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


def open_connection(parts: SplitResult, timeout: float) -> smtplib.SMTP:
    """Connect to the server of ``parts`` and return an SMTP client, encrypted whenever possible."""
    context = ssl.create_default_context()
    host, port = endpoint(parts)
    if parts.scheme == "smtps":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        client.ehlo()
        if client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def login(client: smtplib.SMTP, parts: SplitResult, encrypted: bool) -> None:
    """Log in with the URL's user and password, if it has them."""
    if parts.username is None:
        return
    if not encrypted and not is_loopback(parts.hostname or ""):  # no host is no loopback
        raise MailError(
            f"{where(parts)} offers no STARTTLS: refusing to send the SMTP password "
            "unencrypted; use smtps:// or a server with STARTTLS"
        )
    user, password = unquote(parts.username), unquote(parts.password or "")
    if not (user + password).isascii():  # smtplib encodes AUTH as ASCII
        raise MailError(f"{where(parts)}: the SMTP user and password must be ASCII")
    client.login(user, password)


def quit_quietly(client: smtplib.SMTP) -> None:
    """Say QUIT after the message was accepted; a server that hangs up first changes nothing."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass


def send_mail(
    smtp_url: str, sender: str, recipients: Sequence[str], subject: str, body: str, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, tuple[int, bytes]]:
    """Send ``body`` as a plain-text e-mail to ``recipients``; return those the server refused."""
    parts = urlsplit(smtp_url)
    endpoint(parts)
    message = build_message(sender, recipients, subject, body)
    try:
        client = open_connection(parts, timeout)
        try:
            encrypted = parts.scheme == "smtps" or isinstance(client.sock, ssl.SSLSocket)
            login(client, parts, encrypted)
            refused = client.send_message(message, from_addr=sender, to_addrs=list(recipients))
            quit_quietly(client)
            return refused
        finally:
            client.close()
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and socket.timeout are OSErrors
        raise MailError(f"cannot send mail via {where(parts)}: {type(exc).__name__}: {one_line(exc)}") from None
