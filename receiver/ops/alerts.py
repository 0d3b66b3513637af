"""E-mail the operators when captures stop flowing: retries, dead letters, a stuck backlog, Redis away.

``AlertMonitor.observe(snapshot)`` decides which conditions hold (their text
is ``alert_text``'s) and sends at
most one e-mail per ``DUMPER_ALERT_EVERY`` across processes and restarts: the
time of the last alert sent is kept in ``DATA_DIR/spool/alerts.json`` (0600,
replaced atomically), and a non-blocking flock on ``spool/alerts.lock`` lets
one process at a time decide and send.

Failure policy: ``observe`` never raises for a mail or disk failure. A failed
send is logged (logger ``receiver.ops.alerts``) and not counted as sent, so the
next call tries again. If the state file cannot be read or written, the
monitor falls back to its own memory of its last send, so a broken disk never
makes it mail on every call.
"""

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from receiver.core import jsonl, layout, statefile
from receiver.core.settings import Settings
from receiver.ops import mailer
from receiver.ops.alert_text import Found, body, conditions, subject

log = logging.getLogger("receiver.alerts")

SENT, SUPPRESSED, NOTHING, FAILED, DISABLED = "sent", "suppressed", "nothing", "failed", "disabled"


class Busy(Exception):
    """Another process is deciding on an alert right now."""


def read_last_sent(path: str) -> float | None:
    """Return the time of the last alert recorded in ``path``, or None if there is none."""
    try:
        state = statefile.read_json(path)
        return None if state is None else float(state["last_sent"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable alert state %s: %s", path, exc)
        return None


@contextmanager
def exclusive(directory: str) -> Iterator[None]:
    """Hold the alert lock in ``directory`` while the block runs; raise ``Busy`` if another process has it."""
    fd = os.open(os.path.join(directory, layout.ALERTS_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, jsonl.FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy() from None
        yield
    finally:
        os.close(fd)  # closing also releases the lock


class AlertMonitor:
    """Turn snapshots of the receiver's state into rate-limited alert e-mails."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.last_sent: float | None = None  # this process's own memory, used when the state file fails

    def observe(self, snapshot: dict[str, Any]) -> str:
        """Send one alert if something is wrong and none went out within ``alert_every``; say what was done."""
        if not self.settings.alert_emails:
            return DISABLED
        found = conditions(snapshot, self.settings)
        if not found:
            return NOTHING
        try:
            directory = layout.spool_dir(self.settings.data_dir)
        except OSError as exc:
            log.warning("alert state unavailable, rate-limiting in memory only: %s", exc)
            return self.decide(found, snapshot, None)
        try:
            with exclusive(directory):
                return self.decide(found, snapshot, os.path.join(directory, layout.ALERTS_STATE))
        except Busy:
            return SUPPRESSED
        except OSError as exc:  # the lock file itself could not be opened
            log.warning("alert lock unavailable, rate-limiting in memory only: %s", exc)
            return self.decide(found, snapshot, None)

    def decide(self, found: Found, snapshot: dict[str, Any], path: str | None) -> str:
        """Send unless an alert went out within ``alert_every``; record the send in ``path`` if given."""
        now = self.clock()
        recorded = read_last_sent(path) if path else None
        last = max((t for t in (recorded, self.last_sent) if t is not None), default=None)
        if last is not None and 0 <= now - last < self.settings.alert_every:
            return SUPPRESSED
        title = subject(found)
        try:
            settings = self.settings
            refused = mailer.send_mail(
                settings.smtp_url,
                settings.alert_from,
                settings.alert_emails,
                title,
                body(found, snapshot, settings, now),
            )
        except mailer.MailError as exc:
            log.error("alert not sent (will retry): %s: %s", title, exc)
            return FAILED
        if refused:
            log.warning("alert refused for %s", ", ".join(sorted(refused)))
        log.info("alert sent to %s: %s", ", ".join(self.settings.alert_emails), title)
        self.last_sent = now
        if path:
            try:
                statefile.write_json(path, {"last_sent": now, "subject": title})
            except OSError as exc:
                log.warning("alert sent but its time not saved to %s: %s", path, exc)
        return SENT
