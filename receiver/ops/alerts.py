"""E-mail the operators when captures stop flowing: retries, dead letters, a stuck backlog, Redis away.

``AlertMonitor.observe(snapshot)`` decides which conditions hold (their text
is ``alert_text``'s) and sends at
most one e-mail per ``DUMPER_ALERT_EVERY`` across processes and restarts,
unless it is news: a kind of finding the last alert did not name (say, posts
refused after a Redis alert) is mailed at once. The time and the kinds of the
last alert sent are kept in ``DATA_DIR/spool/alerts.json`` (0600, replaced
atomically), and a non-blocking flock on ``spool/alerts.lock`` lets one
process at a time decide and send.

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


def read_last_sent(path: str) -> tuple[float | None, frozenset[str] | None]:
    """Return the time and the kinds of the last alert recorded in ``path``; ``(None, None)`` if there is none.

    The kinds are None for a state file written before they were recorded: then any alert is old news.
    """
    try:
        state = statefile.read_json(path)
        if state is None:
            return None, None
        kinds = state.get("kinds")
        return float(state["last_sent"]), None if kinds is None else frozenset(str(kind) for kind in kinds)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring unreadable alert state %s: %s", path, exc)
        return None, None


def is_news(kinds: frozenset[str], told: frozenset[str] | None) -> bool:
    """Say whether ``kinds`` holds a kind of finding the last alert (of kinds ``told``; None: unknown) did not."""
    return told is not None and not kinds <= told


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
        self.last_kinds: frozenset[str] = frozenset()

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
        now, kinds = self.clock(), frozenset(found)
        recorded, told = read_last_sent(path) if path else (None, None)
        if recorded is None or (self.last_sent is not None and self.last_sent > recorded):
            recorded, told = self.last_sent, self.last_kinds if self.last_sent is not None else None
        within = recorded is not None and 0 <= now - recorded < self.settings.alert_every
        if within and not is_news(kinds, told):
            return SUPPRESSED
        # News within the window adds to what was told, so kinds that come and go mail once each per window.
        kinds = kinds | (told or frozenset()) if within else kinds
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
        self.last_sent, self.last_kinds = now, kinds
        if path:
            try:
                statefile.write_json(path, {"last_sent": now, "subject": title, "kinds": sorted(kinds)})
            except OSError as exc:
                log.warning("alert sent but its time not saved to %s: %s", path, exc)
        return SENT
