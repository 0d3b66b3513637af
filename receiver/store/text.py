"""Turn any value from a data file into text without raising: values, errors, byte counts.

Records are made by hand too, so a field may hold any JSON value (a huge
integer, a list); nothing here raises for one. Escaping for a terminal is
the business of ``safetext.py`` (for a terminal) and of a template (HTML).
"""

from __future__ import annotations

from typing import Any

UNITS = ("B", "KiB", "MiB", "GiB")


def safe_str(value: Any) -> str:
    """Return ``value`` as text, whatever its type; never raise."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except ValueError:  # an int longer than sys.get_int_max_str_digits() (made by adding up others)
        return f"<{type(value).__name__} too long to print>"
    except Exception:  # noqa: BLE001 - a value from a file may be of any type; showing it must not fail
        return f"<unprintable {type(value).__name__}>"


def describe_error(exc: BaseException) -> str:
    """Return ``Type: message`` for an exception, its message's lines joined into one."""
    return f"{type(exc).__name__}: {' '.join(safe_str(exc).split())}"


def human_size(size: Any) -> str:
    """Return a byte count as a short human figure: 812 B, 12.3 KiB, 4.0 MiB; anything else as text."""
    if isinstance(size, bool) or not isinstance(size, (int, float, type(None))):
        return safe_str(size)  # a hand-made record may hold any JSON value here
    try:
        size = float(size or 0)
    except OverflowError:
        return f"{safe_str(size)} B"
    for unit in UNITS[:-1]:
        if size < 1024:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {UNITS[-1]}"  # the largest unit takes any size
