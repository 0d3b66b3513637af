"""Decide whether an event matches a route's ``when`` (or ``unless``) table: pure functions.

A key is an event field (``channel``, ``foreignkey``…) or a dotted path into
``custom_params``, ``att_params``, ``payload_params`` or ``raw``; a path
through a list matches when any element does. A value is a scalar (equals), a
list (one of) or a table of operators (all must hold). Numbers compare as
numbers even when the event sent them as strings (``"9990.91"``). A missing
(or null) value matches only ``ne`` and ``exists = false``. ``matches`` runs
on RE2 (``regex``): no pattern of the routes file can hang a worker.

Failure policy: ``compile_condition`` raises ``ConditionError`` naming the key
for a bad table (unknown field or operator, a regex RE2 does not compile);
matching never raises, whatever the event holds.
"""

import math
from collections.abc import Callable, Iterator
from datetime import date
from datetime import time as dt_time
from decimal import Decimal, InvalidOperation
from typing import Any

from receiver.routes.regex import BadRegex, regex_test

FIELDS = (
    "source",
    "panel",
    "webhook_name",
    "channel",
    "activity",
    "foreignkey",
    "identity",
    "journey_name",
    "msgid",
    "repeat_of",  # `when = { repeat_of = { exists = false } }`: no repeats (receiver/ledger/repeats.py)
)
PATH_ROOTS = ("custom_params", "att_params", "payload_params", "raw")
OPERATORS = ("eq", "ne", "in", "gt", "gte", "lt", "lte", "exists", "contains", "matches")
Predicate = Callable[[dict[str, Any]], bool]


class ConditionError(ValueError):
    """A ``when``/``unless`` table names an unknown field or operator, or holds a bad value."""


def check_key(key: str) -> list[str]:
    """Return the path of ``key`` as parts, or raise ``ConditionError`` when it names no field."""
    parts = key.split(".")
    if len(parts) == 1 and key in FIELDS:
        return parts
    if parts[0] in PATH_ROOTS and any(part.isdigit() for part in parts[1:]):
        index = next(part for part in parts[1:] if part.isdigit())
        raise ConditionError(
            f"{key}: {index!r} indexes nothing: a path goes through every element of a list by itself "
            f"(any element matches), leave the index out"
        )
    if parts[0] in PATH_ROOTS and all(parts[1:]) and (len(parts) > 1 or key == "raw"):
        return parts
    raise ConditionError(
        f"{key}: unknown field (fields: {', '.join(FIELDS)}, or a dotted path into {', '.join(PATH_ROOTS)})"
    )


def values_at(event: dict[str, Any], parts: list[str]) -> Iterator[Any]:
    """Yield every value at ``parts`` in ``event``; a list on the way yields each element's."""
    stack: list[tuple[Any, int]] = [(event, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, list):
            stack.extend((item, depth) for item in reversed(value))
        elif depth == len(parts):
            if value is not None:  # a null is no value: every event has every field, null when unknown
                yield value
        elif isinstance(value, dict) and parts[depth] in value:
            stack.append((value[parts[depth]], depth + 1))


def number(value: Any) -> Decimal | None:
    """Return ``value`` as a Decimal when it is a number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return Decimal(str(value))
    if isinstance(value, str) and 0 < len(value) <= 64:
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def equals(actual: Any, wanted: Any) -> bool:
    """Say whether two values are equal, numerically when both are numbers."""
    left, right = number(actual), number(wanted)
    if left is not None and right is not None:
        return left == right
    return bool(actual == wanted)


def compare(actual: Any, wanted: Any, test: Callable[[Decimal, Decimal], bool]) -> bool:
    """Compare as numbers; a value that is not a number never matches an ordering."""
    left, right = number(actual), number(wanted)
    return left is not None and right is not None and test(left, right)


def contains(actual: Any, wanted: Any) -> bool:
    """Say whether a string holds ``wanted`` as a substring, or a list holds it as an element."""
    if isinstance(actual, str):
        return isinstance(wanted, str) and wanted in actual
    return isinstance(actual, (list, dict)) and any(equals(item, wanted) for item in actual)


def operator(name: str, wanted: Any, key: str) -> Callable[[Any], bool]:
    """Return the test of one operator on one value, or raise ``ConditionError``."""
    if name == "eq":
        return lambda actual: equals(actual, wanted)
    if name == "in":
        if not isinstance(wanted, list) or not wanted:
            raise ConditionError(f"{key}.in: expected a list of values (an empty one never matches)")
        return lambda actual: any(equals(actual, option) for option in wanted)
    if name in ("gt", "gte", "lt", "lte"):
        if number(wanted) is None:
            raise ConditionError(f"{key}.{name}: expected a number")
        tests: dict[str, Callable[[Decimal, Decimal], bool]] = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        return lambda actual: compare(actual, wanted, tests[name])
    if name == "contains":
        return lambda actual: contains(actual, wanted)
    if name == "matches":
        if not isinstance(wanted, str):
            raise ConditionError(f"{key}.matches: expected a regular expression as a string")
        try:
            return regex_test(wanted)
        except BadRegex as exc:
            raise ConditionError(f"{key}.matches: {exc}") from None
    raise ConditionError(f"{key}.{name}: unknown operator (operators: {', '.join(OPERATORS)})")


def has_datetime(value: Any) -> bool:
    """Say whether ``value`` is or holds a TOML date or time (an event, JSON, never holds one)."""
    if isinstance(value, (date, dt_time)):
        return True
    if isinstance(value, dict):
        return any(has_datetime(item) for item in value.values())
    return isinstance(value, list) and any(has_datetime(item) for item in value)


def compile_key(key: str, spec: Any) -> Predicate:
    """Return the predicate of one ``key = spec`` entry."""
    parts = check_key(key)
    if has_datetime(spec):
        raise ConditionError(
            f"{key}: a TOML date or time never matches (events are JSON: their times are strings); quote it"
        )
    if isinstance(spec, dict):
        if not spec:
            raise ConditionError(f"{key}: an empty operator table")
        checks = [operator_check(parts, name, wanted, key) for name, wanted in spec.items()]
        return lambda event: all(check(event) for check in checks)
    return any_value(parts, operator("in" if isinstance(spec, list) else "eq", spec, key))


def any_value(parts: list[str], test: Callable[[Any], bool]) -> Predicate:
    """Return a predicate that holds when ``test`` holds for any value at ``parts``."""
    return lambda event: any(test(value) for value in values_at(event, parts))


def operator_check(parts: list[str], name: str, wanted: Any, key: str) -> Predicate:
    """Return the predicate of one operator of an operator table."""
    if name == "exists":
        if not isinstance(wanted, bool):
            raise ConditionError(f"{key}.exists: expected true or false")
        return lambda event: any(True for _ in values_at(event, parts)) == wanted
    if name == "ne":
        return lambda event: not any(equals(value, wanted) for value in values_at(event, parts))
    return any_value(parts, operator(name, wanted, key))


def compile_condition(table: Any, where: str) -> Predicate:
    """Return the predicate of a whole ``when``/``unless`` table: every key must hold."""
    if table is None:
        return lambda event: True
    if not isinstance(table, dict):
        raise ConditionError(f"{where}: expected a table of field = value")
    try:
        checks = [compile_key(key, spec) for key, spec in table.items()]
    except ConditionError as exc:
        raise ConditionError(f"{where}.{exc}") from None
    return lambda event: all(check(event) for check in checks)


def key_value(event: dict[str, Any], key: str) -> Any:
    """Return the first value at ``key`` (a field or dotted path) in ``event``, or None."""
    return next(values_at(event, check_key(key)), None)
