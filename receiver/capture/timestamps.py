"""Parse the two timestamp formats Netcore sends into ISO 8601 strings.

Failure policy: never raise on bad input; return None so the caller can keep
the raw value and add a warning.

Smartech's ``ts`` is ``yymmddHHMMSS`` with no zone, so it becomes a naive ISO
8601 string (``2018-12-12T12:07:08``) in whatever zone the panel uses. The
Email API's ``TIMESTAMP`` is Unix seconds, so it becomes UTC ending in ``Z``.
"""

import math
from datetime import UTC, datetime
from typing import Any

SMARTECH_TS_FORMAT = "%y%m%d%H%M%S"
SMARTECH_TS_DIGITS = 12
SMARTECH_TS_LIMIT = 10**SMARTECH_TS_DIGITS
# Unix seconds with milliseconds and some padding fit in far fewer characters.
MAX_UNIX_TS_CHARS = 64
UTC_SUFFIX = "Z"
WHOLE_SECONDS = "seconds"
FRACTIONAL_SECONDS = "milliseconds"


def parse_smartech_ts(raw: object) -> str | None:
    """Return Smartech's ``yymmddHHMMSS`` as a naive ISO 8601 string, or None."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw < SMARTECH_TS_LIMIT:
            return None  # also spares str() an int too long to convert
        digits = str(raw).zfill(SMARTECH_TS_DIGITS)
    elif isinstance(raw, str):
        digits = raw.strip()
    else:
        return None
    if len(digits) != SMARTECH_TS_DIGITS or not digits.isdigit() or not digits.isascii():
        return None
    try:
        return datetime.strptime(digits, SMARTECH_TS_FORMAT).isoformat()
    except ValueError:
        return None


def parse_unix_ts(raw: Any) -> str | None:
    """Return Unix seconds (number or numeric string) as a UTC ISO 8601 string ending in Z, or None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and len(raw) > MAX_UNIX_TS_CHARS:
        return None  # not a time, and float() need not read megabytes to say so
    try:
        seconds = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(seconds):
        return None
    try:
        when = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    spec = WHOLE_SECONDS if seconds == int(seconds) else FRACTIONAL_SECONDS
    return when.replace(tzinfo=None).isoformat(timespec=spec) + UTC_SUFFIX
