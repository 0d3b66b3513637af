"""The ``matches`` operator of the routes file: RE2 (google-re2), whose time is linear in the value.

Python's ``re`` backtracks: ``^(a+)+$`` over 41 characters takes it hours, so
one route could hold a worker until the job timeout, and its retries. RE2 has
no backtracking, hence no backreferences and no lookarounds: such a pattern
does not compile, and ``routes check`` refuses it.

Failure policy: ``regex_test`` raises ``BadRegex`` (the reason, one line) for
a pattern RE2 cannot run; the test it returns never raises, whatever it is given.
"""

from collections.abc import Callable
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no types; this module wraps its two calls

MAX_MATCHED_CHARS = 10_000  # a regex from the routes file never runs over a longer (hostile) value
OPTIONS = re2.Options()
OPTIONS.log_errors = False  # a bad pattern is our one-line error, not RE2's own line on stderr


class BadRegex(ValueError):
    """RE2 cannot compile the pattern; the message says why."""


def regex_test(wanted: str) -> Callable[[Any], bool]:
    """Return the test "a string or number whose text ``wanted`` is found in", or raise ``BadRegex``."""
    try:
        pattern = re2.compile(wanted, OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise BadRegex(f"bad regular expression for RE2 (no backreferences or lookarounds): {why}") from None
    except UnicodeEncodeError:
        raise BadRegex("bad regular expression: not UTF-8 (a lone surrogate)") from None

    def test(actual: Any) -> bool:
        if isinstance(actual, bool) or not isinstance(actual, (str, int, float)):
            return False
        text = str(actual)
        if len(text) > MAX_MATCHED_CHARS:
            return False
        try:
            return pattern.search(text) is not None
        except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): RE2 takes only UTF-8
            return pattern.search(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")) is not None

    return test
