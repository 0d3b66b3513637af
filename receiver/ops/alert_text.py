"""Say what an alert e-mail says: which conditions hold, its subject and its body.

Pure functions of the readiness snapshot and the settings, so the text can be
tested without a mail server; ``alerts`` decides when to send it.
"""

import os
import socket
from datetime import UTC, datetime
from typing import Any, TypedDict

from receiver.core import layout
from receiver.core.settings import Settings

SUBJECT_PREFIX = "[smartech-dumper]"
MAX_IDS = 20  # capture ids an audit alert lists; `smartech-dumper audit` lists them all
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class Found(TypedDict, total=False):
    """Hold the alert conditions that hold; a key is present only for a condition that does."""

    dead: int
    retrying: int
    unreadable: bool
    pending: tuple[int, float]  # (captures waiting, age of the oldest in seconds)
    redis: float  # seconds Redis has been down
    routes: list[str]  # what is wrong with the routes file, per host that met it
    breakers: list[str]  # the sinks whose circuit breaker is open
    silent: dict[str, float]  # source -> seconds since its last capture, past DUMPER_SILENCE_AFTER
    refused: dict[str, Any]  # the quarantine's summary: posts refused for their credentials, kept
    audit: dict[str, Any]  # the continuous audit's last result, with missing or stuck captures


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
    if snapshot.get("routes_problems"):
        found["routes"] = list(snapshot["routes_problems"])
    if snapshot.get("breakers_open"):
        found["breakers"] = list(snapshot["breakers_open"])
    down = snapshot.get("redis_down_for")
    if down is not None and down > settings.alert_redis_after:
        found["redis"] = down
    if snapshot.get("silent"):
        found["silent"] = snapshot["silent"]
    if (snapshot.get("quarantine") or {}).get("recent"):
        found["refused"] = snapshot["quarantine"]
    books = snapshot.get("audit") or {}
    if books.get("missing") or books.get("stuck"):
        found["audit"] = books
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
    if "routes" in found:
        parts.append("routes file unusable")
    if "breakers" in found:
        parts.append(f"breaker open: {', '.join(found['breakers'])}")
    if "silent" in found:
        names = ", ".join(found["silent"])
        parts.append(f"no posts from {names} for {duration(max(found['silent'].values()))}")
    if "refused" in found:
        parts.append(f"{plural(found['refused']['recent'], 'post')} refused for credentials")
    if "audit" in found:
        counts = found["audit"]["counts"]
        parts.append(f"audit: {counts['missing']} missing, {counts['stuck']} stuck")
    return f"{SUBJECT_PREFIX} {', '.join(parts)}"


def body(found: Found, snapshot: dict[str, Any], settings: Settings, now: float) -> str:
    """Return the e-mail text: what is wrong, and what the operator should do about it."""
    when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = [f"smartech-dumper on {socket.gethostname()} needs attention ({when}).", ""]
    if "dead" in found:
        text += [
            f"DEAD LETTERS: {plural(found['dead'], 'job')} failed after all retries and wait in "
            f"RQ's failed registries of queue {settings.queue!r} and its routing queues (deliveries).",
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
            f"They are safe in {os.path.join(settings.data_dir, layout.CAPTURES)}.",
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
    if "routes" in found:
        text += [
            "ROUTES FILE UNUSABLE: the workers keep routing by the last good routes file they read:",
            *(f"  {problem}" for problem in found["routes"]),
            "Fix or restore the file; `smartech-dumper routes check` names the mistake. The workers take it "
            "up at their next job, with no restart.",
            "",
        ]
    if "breakers" in found:
        text += [
            f"SINK BREAKER OPEN: {', '.join(found['breakers'])}: consecutive deliveries failed, so the deliveries to",
            "these sinks wait (nothing is lost, no retry is spent) and one probe at a time tries the sink, at growing",
            "intervals; the first success closes the breaker and the waiting deliveries go out. Fix the sink;",
            "`smartech-dumper sinks list` shows the sinks; `smartech-dumper undelivered --sink NAME`, what waits.",
            "",
        ]
    for source, age in found.get("silent", {}).items():
        text += [
            f"SILENT: source {source!r} has posted nothing for {duration(age)} (DUMPER_SILENCE_AFTER="
            f"{duration(settings.silence_after or 0)}), after posting within the last 7 days.",
            "Smartech disables a webhook whose endpoint fails, and then stops calling: check the webhook's",
            "state in the Smartech panel (and its credentials), then send its test call. If the quiet is",
            "expected (no journey runs), raise DUMPER_SILENCE_AFTER.",
            "",
        ]
    if "refused" in found:
        text += refused_text(found["refused"])
    if "audit" in found:
        text += audit_text(found["audit"])
    text.append(
        f"At most one alert is sent per {duration(settings.alert_every)} (DUMPER_ALERT_EVERY) while problems last."
    )
    text.append("A kind of problem the last alert did not name is mailed at once.")
    return "\n".join(text) + "\n"


def refused_text(kept: dict[str, Any]) -> list[str]:
    """Return the paragraph on posts refused for their credentials, kept in the quarantine."""
    newest = kept.get("newest_age_seconds")
    return [
        "REFUSED: Smartech is posting with credentials we do not accept; it will disable the webhook.",
        f"{plural(kept['recent'], 'post')} refused within the last day (401, newest "
        f"{'unknown' if newest is None else duration(newest) + ' ago'}); their bodies are kept in quarantine.",
        "Put the credentials of the Smartech panel in DUMPER_BASIC_AUTH (several pairs rotate without loss), then",
        "hand the kept posts on, each once:",
        "  smartech-dumper quarantine list            # one line per refused post",
        "  smartech-dumper quarantine show ID         # its headers and body",
        "  smartech-dumper quarantine release --all   # each becomes a capture, processed like any other",
        "",
    ]


def audit_text(books: dict[str, Any]) -> list[str]:
    """Return the paragraph on the continuous audit's missing and stuck captures."""
    counts, window = books["counts"], duration(books.get("window_seconds") or 0)
    text = [
        f"AUDIT: the audit of the captures received in the last {window} found {counts['missing']} missing "
        f"(answered 200, but no job, no event, no dead letter: nothing will process them) and "
        f"{counts['stuck']} stuck (waiting longer than {duration(books.get('stuck_after_seconds') or 0)}).",
    ]
    for title, ids in (("missing", books.get("missing") or []), ("stuck", books.get("stuck") or [])):
        if ids:
            left = max(counts.get(title, 0), len(ids)) - min(len(ids), MAX_IDS)
            more = f" (and {left} more)" if left else ""
            text += [f"{title.capitalize()}{more}:", *(f"  {each}" for each in ids[:MAX_IDS])]
    return [
        *text,
        "Put the missing back on the queue, once each:  smartech-dumper audit --since 1h --requeue",
        "Stuck captures wait for a worker: check that `smartech-dumper worker` runs (smartech-dumper check).",
        "",
    ]
