"""Parse the time expressions of ``--since``, ``--until`` and ``--older-than`` (and the inspector's filters).

Accepted, all in UTC:

- ``now``, ``today`` (midnight today), ``yesterday`` (midnight yesterday);
- an ISO 8601 date ``2026-11-28`` (its midnight) or date-time
  ``2026-11-28T08:30``, ``2026-11-28 08:30:01.123Z``, ``...+05:30``; a date-time
  without a zone is UTC;
- an age in the settings' duration grammar (``receiver.core.parsers.duration_seconds``):
  ``90`` (seconds), ``30s``, ``15m``, ``2h``, ``7d``, ``2w``, meaning that long ago.

ISO is tried before an age, so ``20261128`` stays a date. A time must lie
from ``EARLIEST`` (1970, before any capture) to ``LATEST`` (9999-01-01), so
the windows built on it (a grace period, a day range) never overflow.
Failure policy: anything else raises ``TimeExprError`` (the CLI's parameter
type turns it into a usage error); nothing else is raised.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from receiver.core.parsers import duration_seconds

ZULU = "Z"
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
HINT = "use an ISO date or time (2026-11-28, 2026-11-28T08:30Z), an age (30s, 15m, 2h, 7d) or today/yesterday/now"


class TimeExprError(ValueError):
    """A time expression cannot be understood."""


def midnight(day: date) -> datetime:
    """Return the UTC midnight that starts ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def parse_age(text: str) -> timedelta | None:
    """Return the ``timedelta`` of an age like ``2h`` or ``90``, or None when ``text`` is not one."""
    seconds = duration_seconds(text)
    return None if seconds is None else timedelta(seconds=seconds)


def parse_iso(text: str) -> datetime | None:
    """Return the UTC datetime of an ISO 8601 date or date-time, or None when it is not one."""
    # fromisoformat reads dates and a "Z" itself; a lower-case "z" it does not.
    candidate = text[:-1] + "+00:00" if text.upper().endswith(ZULU) else text
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is past the last datetime
        raise TimeExprError(f"cannot read {text!r} as a time: {out_of_range()}") from None


def out_of_range() -> str:
    """Return why a time outside ``EARLIEST``..``LATEST`` is refused."""
    return f"it is out of range ({EARLIEST.date()} to {LATEST.date()})"


def in_range(when: datetime, text: str | None) -> datetime:
    """Return ``when``, or raise ``TimeExprError`` when it lies outside ``EARLIEST``..``LATEST``."""
    if not EARLIEST <= when <= LATEST:
        raise TimeExprError(f"cannot read {text!r} as a time: {out_of_range()}")
    return when


def parse_time(text: str | None, now: datetime | None = None) -> datetime:
    """Return the UTC datetime that ``text`` names, relative to ``now`` (default: the clock)."""
    now = now or utc_now()
    word = (text or "").strip()
    lowered = word.lower()
    if lowered == "now":
        return now
    if lowered == "today":
        return midnight(now.date())
    if lowered == "yesterday":
        return midnight(now.date()) - timedelta(days=1)
    when = parse_iso(word)
    if when is not None:
        return in_range(when, text)
    try:
        age = parse_age(word)
        if age is not None:
            return in_range(now - age, text)
    except OverflowError:
        raise TimeExprError(f"cannot read {text!r} as a time: it is too long ago") from None
    raise TimeExprError(f"cannot read {text!r} as a time: {HINT}")
