"""Read the inspector's query string: the ``list`` filters, the page size and where a page starts.

The parameters are the CLI's option names (``source``, ``webhook_name``,
``channel``, ``activity``, ``foreignkey``, ``status``, ``since``, ``until``);
repeat one for alternatives (``channel=sms&channel=email``). ``limit`` is the
page size, ``before`` the position a page starts after (an "Older" link),
``page`` skips whole pages, ``after`` asks only for captures newer than a
capture id or a time (live updates). Failure policy: a bad value raises
``QueryError`` naming the parameter.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from werkzeug.datastructures import MultiDict

from receiver.store.filters import Filters, WindowError
from receiver.store.paging import BadPosition, Position
from receiver.store.reading import STATUSES
from receiver.store.select import BadCaptureId
from receiver.store.timeexpr import TimeExprError, parse_time

LISTS = {
    "source": "sources",
    "webhook_name": "webhook_names",
    "channel": "channels",
    "activity": "activities",
    "foreignkey": "foreignkeys",
    "status": "statuses",
}
TIMES = ("since", "until")
DEFAULT_SIZE, MAX_SIZE, MAX_PAGE = 50, 500, 10_000
WHOLE_NUMBER = re.compile(r"^[0-9]{1,9}$")  # ASCII digits only: str.isdigit() takes "²", which int() refuses


class QueryError(ValueError):
    """A query parameter cannot be used."""


@dataclass(frozen=True)
class Query:
    """Hold one listing request: its filters and where its page starts."""

    filters: Filters
    size: int = DEFAULT_SIZE
    before: Position | None = None
    skip: int = 0
    after: Position | datetime | None = None

    def filter_args(self) -> dict[str, list[str]]:
        """Return the filter parameters, to carry into links and polls."""
        args = {name: list(getattr(self.filters, field)) for name, field in LISTS.items()}
        args.update({name: [getattr(self.filters, name)] if getattr(self.filters, name) else [] for name in TIMES})
        if self.size != DEFAULT_SIZE:
            args["limit"] = [str(self.size)]
        return {name: values for name, values in args.items() if values}


def number(args: MultiDict[str, str], name: str, default: int, highest: int) -> int:
    """Return the whole number in parameter ``name`` (1 to ``highest``), or ``default`` without one."""
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not WHOLE_NUMBER.match(text) or not 1 <= int(text) <= highest:
        raise QueryError(f"{name}: expected a whole number from 1 to {highest}, got {text!r}")
    return int(text)


def values(args: MultiDict[str, str], name: str) -> tuple[str, ...]:
    """Return the non-empty values of a repeatable parameter, stripped."""
    return tuple(value.strip() for value in args.getlist(name) if value.strip())


def position(args: MultiDict[str, str], name: str) -> Position | None:
    """Return the page position in parameter ``name``, or None."""
    text = (args.get(name) or "").strip()
    try:
        return Position.parse(text) if text else None
    except (BadPosition, BadCaptureId) as exc:
        raise QueryError(f"{name}: {exc}") from None


def parse(args: MultiDict[str, str]) -> Query:
    """Return the ``Query`` of a request's arguments; raise ``QueryError`` for a bad one."""
    statuses = tuple(value.lower() for value in values(args, "status"))
    for status in statuses:
        if status not in STATUSES:
            raise QueryError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    times = {name: (args.get(name) or "").strip() or None for name in TIMES}
    for name, text in times.items():
        try:
            parse_time(text) if text else None
        except TimeExprError as exc:
            raise QueryError(f"{name}: {exc}") from None
    filters = Filters(
        since=times["since"],
        until=times["until"],
        sources=values(args, "source"),
        webhook_names=values(args, "webhook_name"),
        channels=values(args, "channel"),
        activities=values(args, "activity"),
        foreignkeys=values(args, "foreignkey"),
        statuses=statuses,
    )
    try:
        filters.check_window()
    except WindowError as exc:
        raise QueryError(str(exc).replace("--", "")) from None
    size = number(args, "limit", DEFAULT_SIZE, MAX_SIZE)
    after: Position | datetime | None = None
    after_text = (args.get("after") or "").strip()
    if after_text:
        try:
            after = Position.parse(after_text)
        except (BadPosition, BadCaptureId):
            try:
                after = parse_time(after_text)
            except TimeExprError:
                raise QueryError(f"after: {after_text!r} is neither a capture id nor a time") from None
    skip = (number(args, "page", 1, MAX_PAGE) - 1) * size
    return Query(filters, size, position(args, "before"), skip, after)
