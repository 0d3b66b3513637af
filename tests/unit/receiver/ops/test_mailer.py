"""``send_mail`` against real local SMTP servers: plain, with login, with TLS we must not trust."""

import pytest
from aiosmtpd.controller import Controller

from receiver.ops.mailer import MailError, is_loopback, send_mail
from receiver.procs.stack import free_port
from tests.support.smtp_server import Logins, self_signed_context, smtp_server

SENDER = "dumper@example.com"
RECIPIENTS = ("ops@example.com", "oncall@example.com")
USER, PASSWORD = "alerts@example.com", "p@ss:w/rd 1"
ENCODED = "alerts%40example.com:p%40ss%3Aw%2Frd%201"


@pytest.fixture(scope="module")
def untrusted_tls(tmp_path_factory):
    """Return a server TLS context whose certificate is self-signed."""
    return self_signed_context(str(tmp_path_factory.mktemp("tls")))


def test_a_message_reaches_every_recipient():
    with smtp_server() as (port, inbox):
        refused = send_mail(f"smtp://127.0.0.1:{port}", SENDER, RECIPIENTS, "Hello", "Body line\nsecond: ü\n")

    assert refused == {}
    [(mail_from, rcpt_tos, message)] = inbox.received
    assert (mail_from, rcpt_tos) == (SENDER, list(RECIPIENTS))
    assert (message["From"], message["To"], message["Subject"]) == (SENDER, ", ".join(RECIPIENTS), "Hello")
    assert message["Message-ID"].endswith("@example.com>")
    assert message.get_content().splitlines() == ["Body line", "second: ü"]


def test_url_encoded_credentials_are_decoded_and_used_to_log_in():
    logins = Logins(USER, PASSWORD)
    with smtp_server(authenticator=logins, auth_require_tls=False) as (port, inbox):
        send_mail(f"smtp://{ENCODED}@127.0.0.1:{port}", SENDER, RECIPIENTS[:1], "Hi", "body\n")

    assert logins.attempts == [(USER, PASSWORD)]
    assert len(inbox.messages) == 1


def test_a_wrong_password_fails_without_showing_it():
    logins = Logins(USER, "another")
    with smtp_server(authenticator=logins, auth_require_tls=False) as (port, inbox):
        with pytest.raises(MailError) as caught:
            send_mail(f"smtp://{ENCODED}@127.0.0.1:{port}", SENDER, RECIPIENTS, "Hi", "body\n")

    message = str(caught.value)
    assert message.startswith(f"cannot send mail via smtp://127.0.0.1:{port}: SMTPAuthenticationError: (535")
    assert "p@ss" not in message and "p%40ss" not in message
    assert inbox.messages == []


def test_a_non_ascii_password_is_a_clear_mail_error():
    logins = Logins(USER, "pässword")
    with smtp_server(authenticator=logins, auth_require_tls=False) as (port, inbox):
        with pytest.raises(MailError) as caught:
            send_mail(
                f"smtp://{USER.replace('@', '%40')}:p%C3%A4ssword@127.0.0.1:{port}", SENDER, RECIPIENTS, "Hi", "body\n"
            )

    assert str(caught.value) == f"smtp://127.0.0.1:{port}: the SMTP user and password must be ASCII"
    assert logins.attempts == [] and inbox.messages == []


def test_a_password_is_not_sent_unencrypted_to_another_host():
    logins = Logins(USER, PASSWORD)
    with smtp_server(authenticator=logins, auth_require_tls=False) as (port, inbox):
        # Linux routes 0.0.0.0 to this machine, yet it is not a loopback address: a stand-in for a remote relay.
        with pytest.raises(MailError, match="offers no STARTTLS: refusing to send the SMTP password unencrypted"):
            send_mail(f"smtp://{ENCODED}@0.0.0.0:{port}", SENDER, RECIPIENTS, "Hi", "body\n")

    assert logins.attempts == [] and inbox.messages == []


@pytest.mark.parametrize(
    "host, expected",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("192.0.2.10", False),
        ("mail.example.com", False),
    ],
)
def test_loopback_hosts(host, expected):
    assert is_loopback(host) is expected


def test_starttls_is_used_when_offered_and_the_certificate_is_checked(untrusted_tls):
    with smtp_server(tls_context=untrusted_tls) as (port, inbox):
        with pytest.raises(MailError, match="SSLCertVerificationError: .*CERTIFICATE_VERIFY_FAILED"):
            send_mail(f"smtp://127.0.0.1:{port}", SENDER, RECIPIENTS, "Hi", "body\n")

    assert inbox.messages == []  # nothing went out in clear after the failed upgrade


def test_smtps_speaks_tls_from_the_start_and_checks_the_certificate(untrusted_tls):
    with smtp_server(ssl_context=untrusted_tls) as (port, inbox):
        with pytest.raises(MailError, match="SSLCertVerificationError: .*CERTIFICATE_VERIFY_FAILED"):
            send_mail(f"smtps://127.0.0.1:{port}", SENDER, RECIPIENTS, "Hi", "body\n")

    assert inbox.messages == []


def test_nothing_listening_is_a_mail_error():
    port = free_port()
    with pytest.raises(MailError, match=f"cannot send mail via smtp://127.0.0.1:{port}: ConnectionRefusedError"):
        send_mail(f"smtp://127.0.0.1:{port}", SENDER, RECIPIENTS, "Hi", "body\n", timeout=2)


@pytest.mark.parametrize("url", ["smtp://127.0.0.1:notaport", "http://127.0.0.1:25", "smtp://"])
def test_a_bad_url_is_a_mail_error(url):
    with pytest.raises(MailError, match="not an smtp://host"):
        send_mail(url, SENDER, RECIPIENTS, "Hi", "body\n")


def test_a_partly_refused_delivery_returns_the_refused_recipients():
    class PickyInbox:
        async def handle_RCPT(self, server, session, envelope, address, options):
            if address.startswith("nobody@"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(PickyInbox(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        refused = send_mail(
            f"smtp://127.0.0.1:{controller.port}", SENDER, ("ops@example.com", "nobody@example.com"), "Hi", "body\n"
        )
    finally:
        controller.stop()

    assert list(refused) == ["nobody@example.com"]
    assert refused["nobody@example.com"][0] == 550
