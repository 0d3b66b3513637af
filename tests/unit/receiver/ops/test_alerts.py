"""``AlertMonitor`` sending real e-mail to a real local SMTP server (aiosmtpd)."""

import fcntl
import json
import logging
import os
import stat

import pytest

from receiver.core.settings import load
from receiver.ops.alert_text import duration
from receiver.ops.alerts import AlertMonitor
from receiver.procs.stack import free_port
from tests.support.smtp_server import smtp_server

EMAILS = ("ops@example.com", "oncall@example.com")
EVERY = 15 * 60
T0 = 1_700_000_000.0
FIRST_ERROR = "01HQ0000000000000000000000: NotADirectoryError: [Errno 20] Not a directory: '/srv/var'"
ALL_WRONG = {
    "failed_count": 3,
    "first_error": FIRST_ERROR,
    "pending_count": 120,
    "oldest_pending_age": 720.0,
    "redis_down_for": 300.0,
}
ALL_WELL = {
    "failed_count": 0,
    "first_error": None,
    "pending_count": 0,
    "oldest_pending_age": None,
    "redis_down_for": None,
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


def settings_for(data_dir, port, **extra):
    """Return settings that alert ``EMAILS`` through the SMTP server on ``port``."""
    overrides = {
        "DUMPER_DATA_DIR": data_dir,
        "DUMPER_ALERT_EMAILS": ", ".join(EMAILS),
        "DUMPER_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "DUMPER_ALERT_EVERY": "15m",
        "DUMPER_ALERT_FROM": "dumper@example.com",
    }
    overrides.update(extra)
    return load(environ={}, overrides=overrides)


@pytest.fixture
def smtp():
    """Run a real SMTP server; yield ``(port, inbox)``."""
    with smtp_server() as running:
        yield running


def state_path(data_dir):
    """Return the path of the alert state file."""
    return os.path.join(data_dir, "spool", "alerts.json")


def test_an_alert_reaches_every_address_with_the_counts_and_what_to_do(smtp, data_dir):
    port, inbox = smtp

    assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(ALL_WRONG) == "sent"

    [(mail_from, rcpt_tos, message)] = inbox.received
    assert (mail_from, rcpt_tos) == ("dumper@example.com", list(EMAILS))
    assert message["Subject"] == "[smartech-dumper] 3 dead letters, 120 captures waiting, Redis down 5m"
    text = message.get_content()
    assert "3 jobs failed after all retries" in text
    assert f"First error: {FIRST_ERROR}" in text
    assert "smartech-dumper failed list" in text
    assert "smartech-dumper failed requeue --all" in text
    assert "120 captures received but not yet handed to the queue; the oldest has waited 12m" in text
    assert "Redis (REDIS_URL) has not answered for 5m" in text
    assert "They wait for Redis" in text
    assert "At most one alert is sent per 15m (DUMPER_ALERT_EVERY)" in text
    path = state_path(data_dir)
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle) == {
            "last_sent": T0,
            "subject": message["Subject"],
            "kinds": ["dead", "pending", "redis"],
        }
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert [name for name in os.listdir(os.path.dirname(path)) if name.endswith(".tmp")] == []


def test_alerts_are_rate_limited_to_one_per_alert_every(smtp, data_dir):
    port, inbox = smtp
    clock = Clock()
    monitor = AlertMonitor(settings_for(data_dir, port), clock=clock)

    assert monitor.observe(ALL_WRONG) == "sent"
    clock.now = T0 + EVERY - 1
    assert monitor.observe(ALL_WRONG) == "suppressed"
    assert len(inbox.messages) == 1
    clock.now = T0 + EVERY
    assert monitor.observe(ALL_WRONG) == "sent"
    assert len(inbox.messages) == 2


def test_the_rate_limit_survives_a_restart(smtp, data_dir):
    port, inbox = smtp
    settings = settings_for(data_dir, port)
    assert AlertMonitor(settings, clock=Clock(T0)).observe(ALL_WRONG) == "sent"

    assert AlertMonitor(settings, clock=Clock(T0 + 60)).observe(ALL_WRONG) == "suppressed"
    assert AlertMonitor(settings, clock=Clock(T0 + EVERY + 1)).observe(ALL_WRONG) == "sent"
    assert len(inbox.messages) == 2


def test_smtp_down_fails_quietly_is_logged_and_retried(data_dir, caplog):
    port = free_port()  # nothing listens here yet
    monitor = AlertMonitor(settings_for(data_dir, port), clock=Clock())

    with caplog.at_level(logging.INFO, logger="receiver.alerts"):
        assert monitor.observe(ALL_WRONG) == "failed"
    [record] = caplog.records
    assert (record.name, record.levelno) == ("receiver.alerts", logging.ERROR)
    assert record.getMessage().startswith("alert not sent (will retry): [smartech-dumper] 3 dead letters")
    assert f"cannot send mail via smtp://127.0.0.1:{port}: ConnectionRefusedError" in record.getMessage()
    assert not os.path.exists(state_path(data_dir))  # a failed send does not count as sent

    with smtp_server(port=port) as (_, inbox):
        assert monitor.observe(ALL_WRONG) == "sent"  # same moment: nothing was sent, so no suppression
    assert len(inbox.messages) == 1


def test_no_addresses_disables_alerts(smtp, data_dir):
    port, inbox = smtp
    settings = settings_for(data_dir, port, DUMPER_ALERT_EMAILS="")

    assert AlertMonitor(settings, clock=Clock()).observe(ALL_WRONG) == "disabled"
    assert inbox.messages == []
    assert not os.path.exists(data_dir)


@pytest.mark.parametrize(
    "snapshot",
    [
        ALL_WELL,
        dict(ALL_WELL, pending_count=40, oldest_pending_age=299.0),  # not yet DUMPER_ALERT_PENDING_AFTER (5m)
        dict(ALL_WELL, redis_down_for=60.0, failed_count=None),  # not longer than DUMPER_ALERT_REDIS_AFTER (1m)
        dict(ALL_WELL, pending_count=0, oldest_pending_age=900.0),
    ],
    ids=["all-well", "young-backlog", "short-outage", "no-backlog"],
)
def test_nothing_wrong_sends_nothing(smtp, data_dir, snapshot):
    port, inbox = smtp
    assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(snapshot) == "nothing"
    assert inbox.messages == []


@pytest.mark.parametrize(
    "snapshot, subject, says",
    [
        (dict(ALL_WELL, failed_count=1, first_error=FIRST_ERROR), "1 dead letter", "1 job failed"),
        (
            dict(ALL_WELL, pending_count=1, oldest_pending_age=301.0),
            "1 capture waiting",
            "the forwarder is not running or is stuck",
        ),
        (
            dict(ALL_WELL, failed_count=None, redis_down_for=3 * 3600 + 125.0),
            "Redis down 3h 2m",
            "Dead letters cannot be counted while Redis is down.",
        ),
        (
            dict(ALL_WELL, breakers_open=["callcenter"]),
            "breaker open: callcenter",
            "SINK BREAKER OPEN: callcenter: consecutive deliveries failed",
        ),
    ],
    ids=["dead-letter", "stuck-backlog", "redis-down", "breaker-open"],
)
def test_each_condition_alone_raises_an_alert(smtp, data_dir, snapshot, subject, says):
    port, inbox = smtp

    assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(snapshot) == "sent"

    [message] = inbox.messages
    assert message["Subject"] == f"[smartech-dumper] {subject}"
    assert says in message.get_content()
    others = {"DEAD LETTERS", "CAPTURES WAITING", "REDIS DOWN", "SINK BREAKER OPEN"}
    assert sum(heading in message.get_content() for heading in others) == 1


def test_thresholds_come_from_the_settings(smtp, data_dir):
    port, inbox = smtp
    settings = settings_for(data_dir, port, DUMPER_ALERT_PENDING_AFTER="1h", DUMPER_ALERT_REDIS_AFTER="10m")
    monitor = AlertMonitor(settings, clock=Clock())

    assert (
        monitor.observe(dict(ALL_WELL, pending_count=5, oldest_pending_age=3000.0, redis_down_for=500.0)) == "nothing"
    )
    assert monitor.observe(dict(ALL_WELL, pending_count=5, oldest_pending_age=3601.0)) == "sent"
    assert inbox.messages[0]["Subject"] == "[smartech-dumper] 5 captures waiting"


def test_another_process_deciding_suppresses(smtp, data_dir):
    port, inbox = smtp
    os.makedirs(os.path.join(data_dir, "spool"))
    fd = os.open(os.path.join(data_dir, "spool", "alerts.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a process busy sending would hold it
    try:
        assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(ALL_WRONG) == "suppressed"
    finally:
        os.close(fd)
    assert inbox.messages == []
    assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(ALL_WRONG) == "sent"


def test_a_corrupt_state_file_is_ignored_and_replaced(smtp, data_dir, caplog):
    port, inbox = smtp
    os.makedirs(os.path.join(data_dir, "spool"))
    with open(state_path(data_dir), "w", encoding="utf-8") as handle:
        handle.write("{not json")

    with caplog.at_level(logging.WARNING, logger="receiver.alerts"):
        assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(ALL_WRONG) == "sent"

    assert "ignoring unreadable alert state" in caplog.text
    with open(state_path(data_dir), encoding="utf-8") as handle:
        assert json.load(handle)["last_sent"] == T0


def test_an_unwritable_data_dir_still_alerts_and_rate_limits_in_memory(smtp, tmp_path, caplog):
    port, inbox = smtp
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the data dir should be\n")
    clock = Clock()
    monitor = AlertMonitor(settings_for(str(blocker / "var"), port), clock=clock)

    with caplog.at_level(logging.WARNING, logger="receiver.alerts"):
        assert monitor.observe(ALL_WRONG) == "sent"
        clock.now += 60
        assert monitor.observe(ALL_WRONG) == "suppressed"
        clock.now = T0 + EVERY
        assert monitor.observe(ALL_WRONG) == "sent"

    assert len(inbox.messages) == 2
    assert "rate-limiting in memory only" in caplog.text


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (45, "45s"),
        (300, "5m"),
        (301, "5m 1s"),
        (3600, "1h"),
        (3 * 3600 + 125, "3h 2m"),
        (86400 + 4 * 3600 + 59, "1d 4h"),
    ],
)
def test_durations_read_naturally(seconds, text):
    assert duration(seconds) == text


REFUSED = {"posts": 3, "bytes": 900, "recent": 3, "newest_age_seconds": 42.0}
AUDIT = {
    "when": T0,
    "window_seconds": 3000.0,
    "stuck_after_seconds": 600.0,
    "counts": {"captures": 9, "missing": 2, "stuck": 1},
    "missing": ["01KB3Q6E0M8ZJ7V6Q2W5T9X4YR", "01KB3Q6E0M8ZJ7V6Q2W5T9X4YS"],
    "stuck": ["01KB3Q6E0M8ZJ7V6Q2W5T9X4YT"],
}


def test_refused_posts_and_the_audit_are_mailed_with_what_to_do(smtp, data_dir):
    port, inbox = smtp
    snapshot = dict(ALL_WELL, quarantine=REFUSED, audit=AUDIT)
    assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(snapshot) == "sent"
    [message] = inbox.messages
    # .strip(): a subject past 78 characters is folded onto the next line, whose space Python's parser keeps
    assert message["Subject"].strip() == "[smartech-dumper] 3 posts refused for credentials, audit: 2 missing, 1 stuck"
    text = message.get_content()
    assert "REFUSED: Smartech is posting with credentials we do not accept; it will disable the webhook." in text
    assert "3 posts refused within the last day (401, newest 42s ago)" in text
    assert "smartech-dumper quarantine release --all" in text
    assert "AUDIT: the audit of the captures received in the last 50m found 2 missing" in text
    assert "and 1 stuck (waiting longer than 10m)" in text
    assert all(capture_id in text for capture_id in AUDIT["missing"] + AUDIT["stuck"])
    assert "smartech-dumper audit --since 1h --requeue" in text


@pytest.mark.parametrize(
    "snapshot",
    [
        dict(ALL_WELL, quarantine={**REFUSED, "recent": 0}),
        dict(ALL_WELL, quarantine=None, audit=None),
        dict(
            ALL_WELL, audit={**AUDIT, "counts": {"captures": 9, "missing": 0, "stuck": 0}, "missing": [], "stuck": []}
        ),
    ],
    ids=["old-refusals", "off", "balanced"],
)
def test_old_refusals_and_balanced_books_send_nothing(smtp, data_dir, snapshot):
    port, inbox = smtp
    assert AlertMonitor(settings_for(data_dir, port), clock=Clock()).observe(snapshot) == "nothing"


def test_a_new_kind_of_finding_is_news_and_bypasses_the_throttle(smtp, data_dir):
    port, inbox = smtp
    clock = Clock()
    monitor = AlertMonitor(settings_for(data_dir, port), clock=clock)
    redis_down = dict(ALL_WELL, failed_count=None, redis_down_for=300.0)
    assert monitor.observe(redis_down) == "sent"
    clock.now += 60
    assert monitor.observe(redis_down) == "suppressed"  # the same news
    refused = dict(redis_down, quarantine=REFUSED)
    assert monitor.observe(refused) == "sent"  # news: mailed at once
    assert "REFUSED" in inbox.messages[-1].get_content()
    with open(state_path(data_dir), encoding="utf-8") as handle:
        assert json.load(handle)["kinds"] == ["redis", "refused"]
    clock.now += 60
    assert monitor.observe(redis_down) == "suppressed"  # a subset of what was told
    assert monitor.observe(dict(ALL_WELL, quarantine=REFUSED)) == "suppressed"
    # Another process (a restart) reads the kinds from the state file.
    assert AlertMonitor(settings_for(data_dir, port), clock=clock).observe(refused) == "suppressed"
    assert AlertMonitor(settings_for(data_dir, port), clock=clock).observe(dict(refused, audit=AUDIT)) == "sent"
    assert len(inbox.messages) == 3


def test_kinds_that_come_and_go_mail_once_each_per_window(smtp, data_dir):
    port, inbox = smtp
    clock = Clock()
    monitor = AlertMonitor(settings_for(data_dir, port), clock=clock)
    dead, refused = dict(ALL_WELL, failed_count=1), dict(ALL_WELL, quarantine=REFUSED)
    assert [monitor.observe(each) for each in (dead, refused, dead, refused, dead)] == [
        "sent",
        "sent",
        "suppressed",
        "suppressed",
        "suppressed",
    ]


def test_a_state_file_without_kinds_makes_nothing_news(smtp, data_dir):
    port, inbox = smtp
    os.makedirs(os.path.join(data_dir, "spool"))
    with open(state_path(data_dir), "w", encoding="utf-8") as handle:
        json.dump({"last_sent": T0, "subject": "[smartech-dumper] 1 dead letter"}, handle)
    monitor = AlertMonitor(settings_for(data_dir, port), clock=Clock(T0 + 60))
    assert monitor.observe(dict(ALL_WELL, quarantine=REFUSED)) == "suppressed"
