"""Parse the time expressions of ``--since``, ``--until`` and ``--older-than``.

Accepted, all in UTC:

- ``now``, ``today`` (midnight today), ``yesterday`` (midnight yesterday);
- a relative age ``30s``, ``15m``, ``2h``, ``7d`` or ``2w``, meaning that long ago;
- an ISO 8601 date ``2026-11-28`` (its midnight) or date-time
  ``2026-11-28T08:30``, ``2026-11-28 08:30:01.123Z``, ``...+05:30``; a date-time
  without a zone is UTC.

Anything else raises ``TimeExprError``; the click type turns it into a usage error.
"""
import re
from datetime import date, datetime, timedelta, timezone

import click

RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ZULU = "Z"
HINT = "use an ISO date or time (2026-11-28, 2026-11-28T08:30Z), an age (30s, 15m, 2h, 7d) or today/yesterday/now"


class TimeExprError(ValueError):
    """A time expression cannot be understood."""


def midnight(day):
    """Return the UTC midnight that starts ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def utc_now():
    """Return the current time in UTC."""
    return datetime.now(timezone.utc)


def parse_age(text):
    """Return the ``timedelta`` of a relative age like ``2h``, or None when ``text`` is not one."""
    match = RELATIVE.match(text.strip().lower())
    if not match:
        return None
    return timedelta(seconds=float(match.group(1)) * UNIT_SECONDS[match.group(2)])


def parse_iso(text):
    """Return the UTC datetime of an ISO 8601 date or date-time, or None when it is not one."""
    if DATE_ONLY.match(text):
        try:
            return midnight(date.fromisoformat(text))
        except ValueError:
            return None
    candidate = text[:-1] + "+00:00" if text.upper().endswith(ZULU) else text
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def parse_time(text, now=None):
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
    age = parse_age(word)
    if age is not None:
        return now - age
    when = parse_iso(word)
    if when is None:
        raise TimeExprError(f"cannot read {text!r} as a time: {HINT}")
    return when


class TimeExpr(click.ParamType):
    """A click parameter that keeps the text and checks that it parses."""

    name = "TIME"

    def convert(self, value, param, ctx):
        """Return ``value`` unchanged once it is known to parse; fail with a usage error otherwise."""
        try:
            parse_time(value)
        except TimeExprError as exc:
            self.fail(str(exc), param, ctx)
        return value


TIME = TimeExpr()
