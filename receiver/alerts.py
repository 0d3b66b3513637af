"""E-mail the operators when captures stop flowing: retries, dead letters, a stuck backlog, Redis away.

``AlertMonitor.observe(snapshot)`` decides which conditions hold and sends at
most one e-mail per ``DUMPER_ALERT_EVERY`` across processes and restarts: the
time of the last alert sent is kept in ``DATA_DIR/spool/alerts.json`` (0600,
replaced atomically), and a non-blocking flock on ``spool/alerts.lock`` lets
one process at a time decide and send.

Failure policy: ``observe`` never raises for a mail or disk failure. A failed
send is logged (logger ``receiver.alerts``) and not counted as sent, so the
next call tries again. If the state file cannot be read or written, the
monitor falls back to its own memory of its last send, so a broken disk never
makes it mail on every call.
"""

import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypedDict

from . import capture, cursor, jsonl, mailer, statefile
from .settings import Settings

log = logging.getLogger("receiver.alerts")

SENT, SUPPRESSED, NOTHING, FAILED, DISABLED = "sent", "suppressed", "nothing", "failed", "disabled"
STATE_FILE = "alerts.json"
LOCK_FILE = "alerts.lock"
SUBJECT_PREFIX = "[smartech-dumper]"
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class Busy(Exception):
    """Another process is deciding on an alert right now."""


class Found(TypedDict, total=False):
    """Hold the alert conditions that hold; a key is present only for a condition that does."""

    dead: int
    retrying: int
    unreadable: bool
    pending: tuple[int, float]  # (captures waiting, age of the oldest in seconds)
    redis: float  # seconds Redis has been down


def duration(seconds: float) -> str:
    """Return ``seconds`` as its two largest units, e.g. ``45s``, ``5m``, ``2h 5m``, ``3d 4h``."""
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in UNITS:
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


def plural(count: int, word: str) -> str:
    """Return ``"1 word"`` or ``"N words"``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def conditions(snapshot: dict[str, Any], settings: Settings) -> Found:
    """Return the alert conditions that hold, as ``{"dead": n, "retrying": n, "pending": (n, age), "redis": s}``."""
    found: Found = {}
    failed = snapshot.get("failed_count")
    if failed:
        found["dead"] = failed
    if snapshot.get("retrying"):
        found["retrying"] = snapshot["retrying"]
    if snapshot.get("backlog_unreadable"):
        found["unreadable"] = True
    pending, age = snapshot.get("pending_count") or 0, snapshot.get("oldest_pending_age")
    if pending and age is not None and age > settings.alert_pending_after:
        found["pending"] = (pending, age)
    down = snapshot.get("redis_down_for")
    if down is not None and down > settings.alert_redis_after:
        found["redis"] = down
    return found


def subject(found: Found) -> str:
    """Return the subject, e.g. ``[smartech-dumper] 3 dead letters, 120 captures waiting, Redis down 5m``."""
    parts = []
    if "dead" in found:
        parts.append(plural(found["dead"], "dead letter"))
    if "retrying" in found:
        parts.append(f"{plural(found['retrying'], 'job')} retrying")
    if "unreadable" in found:
        parts.append("captures backlog unreadable")
    if "pending" in found:
        parts.append(f"{plural(found['pending'][0], 'capture')} waiting")
    if "redis" in found:
        parts.append(f"Redis down {duration(found['redis'])}")
    return f"{SUBJECT_PREFIX} {', '.join(parts)}"


def body(found: Found, snapshot: dict[str, Any], settings: Settings, now: float) -> str:
    """Return the e-mail text: what is wrong, and what the operator should do about it."""
    when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = [f"smartech-dumper on {socket.gethostname()} needs attention ({when}).", ""]
    if "dead" in found:
        text += [
            f"DEAD LETTERS: {plural(found['dead'], 'job')} failed after all retries and wait in "
            f"RQ's failed registry of queue {settings.queue!r}.",
            f"First error: {snapshot.get('first_error') or 'not available'}",
            "Their captures are safe on disk. Fix the cause, then requeue them:",
            "  smartech-dumper failed list            # one line per failed job",
            "  smartech-dumper failed show ID         # the full traceback of one",
            "  smartech-dumper failed requeue --all   # put every one back on the queue",
            "",
        ]
    if "retrying" in found:
        text += [
            f"RETRYING: {plural(found['retrying'], 'job')} failed and wait for a retry "
            f"(DUMPER_RETRY_INTERVALS). Bad payloads never fail a job, so each retry means the worker "
            "met a fault of its own (disk, permissions, Redis): read the worker's log.",
            "",
        ]
    if "unreadable" in found:
        text += [
            f"BACKLOG UNREADABLE: the forwarder's cursor or the captures files in {settings.data_dir} cannot be "
            "read, so nobody can tell what waits to be queued. Read the log of `smartech-dumper serve` "
            "(receiver.status and receiver.forwarder lines) and fix the file it names.",
            "",
        ]
    if "pending" in found:
        count, age = found["pending"]
        text += [
            f"CAPTURES WAITING: {plural(count, 'capture')} received but not yet handed to the queue; "
            f"the oldest has waited {duration(age)} (DUMPER_ALERT_PENDING_AFTER="
            f"{duration(settings.alert_pending_after)}).",
            f"They are safe in {os.path.join(settings.data_dir, capture.KIND)}.",
        ]
        if "redis" in found:
            text += ["They wait for Redis (below) and are forwarded automatically once it answers.", ""]
        else:
            text += [
                "Redis answers, so the forwarder is not running or is stuck: check that "
                "`smartech-dumper serve` runs with DUMPER_FORWARDER=true (or run `smartech-dumper forward`) "
                "and read its log for receiver.forwarder errors.",
                "",
            ]
    if "redis" in found:
        text += [
            f"REDIS DOWN: Redis (REDIS_URL) has not answered for {duration(found['redis'])}. Webhooks "
            "are still answered and captured to disk, but nothing is queued or processed.",
            "Start or repair Redis; `smartech-dumper check` shows whether this host reaches it. "
            "Waiting captures are forwarded automatically once it answers.",
            "",
        ]
        if snapshot.get("failed_count") is None:
            text += ["Dead letters cannot be counted while Redis is down.", ""]
    text.append(
        f"At most one alert is sent per {duration(settings.alert_every)} (DUMPER_ALERT_EVERY) while problems last."
    )
    return "\n".join(text) + "\n"


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
    fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, jsonl.FILE_MODE)
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
            directory = cursor.spool_dir(self.settings.data_dir)
        except OSError as exc:
            log.warning("alert state unavailable, rate-limiting in memory only: %s", exc)
            return self.decide(found, snapshot, None)
        try:
            with exclusive(directory):
                return self.decide(found, snapshot, os.path.join(directory, STATE_FILE))
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
