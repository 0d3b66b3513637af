"""The same books, continuously: the audit over a recent window, on the alert monitor's timer.

Every ``DUMPER_AUDIT_EVERY`` the monitor of ``smartech-dumper serve`` runs
the audit (``receiver/ops/audit.py``) over the captures received within the
last ``DUMPER_AUDIT_WINDOW`` (at most 55 minutes, below RQ's one hour of
finished jobs) and keeps the result in ``spool/audit.json``: when, the window,
the counts, and the missing and stuck ids (the first ``MAX_KEPT`` of each).
The alerts, ``/readyz`` and ``/metrics`` read that file: an audit costs one
pass over the window's captures however many readers ask.

Failure policy: ``run`` never raises; an audit that fails (Redis away, an
unreadable file) is logged and writes nothing, so the last result ages and
``fresh`` turns false. ``last`` returns None for a missing or unreadable file.
"""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from receiver.core import layout, statefile
from receiver.core.settings import Settings

log = logging.getLogger("receiver.watch")
MAX_KEPT = 100  # missing and stuck ids kept in spool/audit.json; the counts are always whole
STALE_AFTER_RUNS = 3  # a result older than this many DUMPER_AUDIT_EVERY is no longer fresh
COUNTED = ("captures", "processed", "dead", "on_disk", "queued", "running", "retrying", "scheduled", "missing")


def state_path(data_dir: str) -> str:
    """Return the path of ``spool/audit.json``."""
    return layout.spool_path(data_dir, layout.AUDIT_FILE)


def run(settings: Settings, connection: redis.Redis, now: datetime) -> dict[str, Any] | None:
    """Audit ``[now - DUMPER_AUDIT_WINDOW, now)``, keep the result in ``spool/audit.json`` and return it."""
    if settings.audit_window is None:
        return None
    from receiver.ops.audit import audit  # the audit reads the ledger and decodes: only the monitor needs it

    since = now - timedelta(seconds=settings.audit_window)
    try:
        books = audit(settings, connection, since, now, frozenset(), settings.audit_stuck_after, now)
    except Exception as exc:  # the monitor's timer must outlive any surprise
        log.error("continuous audit failed (tried again in %gs): %s", settings.audit_every, exc)
        return None
    totals = books.totals()
    result = {
        "when": now.timestamp(),
        "since": since.timestamp(),
        "window_seconds": settings.audit_window,
        "stuck_after_seconds": settings.audit_stuck_after,
        "counts": {name: totals[name] for name in COUNTED} | {"stuck": len(books.stuck)},
        "missing": books.missing[:MAX_KEPT],
        "stuck": books.stuck[:MAX_KEPT],
    }
    if books.missing or books.stuck:
        log.warning("continuous audit: %d missing, %d stuck", len(books.missing), len(books.stuck))
    try:
        layout.spool_dir(settings.data_dir)
        statefile.write_json(state_path(settings.data_dir), result, durable=False)
    except OSError as exc:
        log.error("continuous audit result not saved to %s: %s", state_path(settings.data_dir), exc)
    return result


def last(data_dir: str) -> dict[str, Any] | None:
    """Return the last audit result kept, or None."""
    try:
        found = statefile.read_json(state_path(data_dir))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", state_path(data_dir), exc)
        return None
    return found if isinstance(found, dict) and isinstance(found.get("when"), int | float) else None


def due(settings: Settings, now: float) -> bool:
    """Say whether the continuous audit should run now: it is on, and none ran within ``DUMPER_AUDIT_EVERY``."""
    if settings.audit_window is None:
        return False
    found = last(settings.data_dir)
    return found is None or not 0 <= now - found["when"] < settings.audit_every


def fresh(settings: Settings, now: float) -> dict[str, Any] | None:
    """Return the last result if the audit is on and it is at most ``STALE_AFTER_RUNS`` runs old, else None."""
    if settings.audit_window is None:
        return None
    found = last(settings.data_dir)
    if found is None or now - found["when"] > STALE_AFTER_RUNS * settings.audit_every:
        return None
    return found


def counts(settings: Settings, now: float) -> dict[str, Any] | None:
    """Return what ``/readyz`` shows of the last fresh audit: its counts and age, never the ids."""
    found = fresh(settings, now)
    if found is None:
        return None
    return {**found["counts"], "age_seconds": max(0.0, now - found["when"]), "window_seconds": found["window_seconds"]}


def when(result: dict[str, Any]) -> str:
    """Return the time of an audit result, for people."""
    return datetime.fromtimestamp(result["when"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
