"""Read and validate the routes file (``DUMPER_ROUTES``, TOML): sinks, and routes from events to sinks.

Failure policy: ``load`` raises ``RoutesError`` whose message names the file,
the route (or sink) and the key, for any mistake: an unknown field, operator,
sink or queue, a bad duration or regex, a missing name, a value that can never
match, a sink option that can never deliver (``sinkcheck``). ``check``, ``serve``
and ``worker`` call it at start, so a bad file stops the start; a file that
cannot be read (missing, no permission, not UTF-8) is a ``RoutesError`` too, of
kind ``unreadable``, never a raw exception. At runtime ``live.current`` keeps
the last good routes in force.
"""

import tomllib
from dataclasses import dataclass, field
from typing import Any

from receiver.core.keys import PRIORITIES
from receiver.core.parsers import duration_seconds
from receiver.core.settings import DEFAULT_RETRY_INTERVALS
from receiver.routes.match import ConditionError, Predicate, check_key, compile_condition
from receiver.routes.sinkcheck import SinkProblem, check_sink
from receiver.routes.sinklimits import LIMIT_KEYS, SinkLimits, read_limits

SINK_TYPES = ("sql", "http", "python")
ROUTE_KEYS = ("name", "when", "to", "queue", "after", "unless", "key")
SINK_KEYS = {
    "sql": ("type", "url", "table", "retries", *LIMIT_KEYS),
    "http": ("type", "url", "headers", "auth", "timeout", "retries", *LIMIT_KEYS),
    "python": ("type", "callable", "retries", *LIMIT_KEYS),
}
DEFAULT_KEY = "foreignkey"
DEFAULT_RETRIES = DEFAULT_RETRY_INTERVALS  # a sink retries on the schedule a capture's job does
DEFAULT_TIMEOUT = "10s"


UNREADABLE, INVALID = "unreadable", "invalid"  # the kinds of RoutesError: cannot be read, or says something wrong


class RoutesError(ValueError):
    """The routes file is missing, unreadable or wrong; the message says where, ``kind`` which of the two."""

    def __init__(self, message: str, kind: str = INVALID) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Sink:
    """A named place events go to, with its type's options (strings may hold ``${ENV}``)."""

    name: str
    type: str
    options: dict[str, Any]
    retries: tuple[float, ...]
    limits: SinkLimits = SinkLimits()  # rate, concurrency and breaker (sinklimits.py)


@dataclass(frozen=True)
class Route:
    """Events that match ``when`` go to the sinks ``to`` on ``queue``, at once or after a delayed check."""

    name: str
    when: Predicate = field(compare=False)
    to: tuple[str, ...]
    queue: str
    after: float | None = None
    unless: Predicate | None = field(default=None, compare=False)
    key: str = DEFAULT_KEY
    text: str = ""  # how ``routes check`` prints it, one line


@dataclass(frozen=True)
class Routes:
    """Everything one routes file says."""

    path: str
    sinks: dict[str, Sink]
    routes: tuple[Route, ...]


def durations(where: str, value: Any) -> tuple[float, ...]:
    """Parse a comma-separated list of durations (``none`` for no retries)."""
    text = str(value).strip()
    if text.lower() == "none":
        return ()
    found = []
    for item in text.split(","):
        seconds = duration_seconds(item)
        if seconds is None or seconds <= 0:
            raise RoutesError(f"{where}: bad duration {item.strip()!r} (like 30s, 15m, 2h, 7d, 2w)")
        found.append(seconds)
    return tuple(found)


def read_sink(name: str, table: Any, where: str) -> Sink:
    """Validate one ``[sinks.NAME]`` table."""
    if not isinstance(table, dict) or table.get("type") not in SINK_TYPES:
        raise RoutesError(f"{where}: sink {name!r}: type must be one of {', '.join(SINK_TYPES)}")
    kind = table["type"]
    unknown = sorted(set(table) - set(SINK_KEYS[kind]))
    if unknown:
        raise RoutesError(
            f"{where}: sink {name!r}: unknown key {unknown[0]!r} for a {kind} sink (keys: {', '.join(SINK_KEYS[kind])})"
        )
    try:
        check_sink(kind, table)
        limits = read_limits(table)
    except SinkProblem as exc:
        raise RoutesError(f"{where}: sink {name!r}: {exc}") from None
    retries = durations(f"{where}: sink {name!r}: retries", table.get("retries", DEFAULT_RETRIES))
    options = {k: v for k, v in table.items() if k not in ("type", "retries", *LIMIT_KEYS)}
    return Sink(name, kind, options, retries, limits)


def read_route(index: int, table: Any, sinks: dict[str, Sink], where: str) -> Route:
    """Validate one ``[[routes]]`` table."""
    if not isinstance(table, dict) or not isinstance(table.get("name"), str) or not table["name"].strip():
        raise RoutesError(f"{where}: route {index + 1}: name: every route needs a name")
    name = table["name"]
    here = f"{where}: route {name!r}"
    unknown = sorted(set(table) - set(ROUTE_KEYS))
    if unknown:
        raise RoutesError(f"{here}: unknown key {unknown[0]!r} (keys: {', '.join(ROUTE_KEYS)})")
    to = table.get("to")
    if not isinstance(to, list) or not to or not all(isinstance(sink, str) for sink in to):
        raise RoutesError(f"{here}: to: expected a list of sink names")
    for sink in to:
        if sink not in sinks:
            raise RoutesError(f"{here}: to: unknown sink {sink!r} (sinks: {', '.join(sorted(sinks)) or 'none'})")
    queue = table.get("queue", "default")
    if queue not in PRIORITIES:
        raise RoutesError(f"{here}: queue: unknown queue {queue!r} (queues: {', '.join(PRIORITIES)})")
    after = None
    if "after" in table:
        after = duration_seconds(str(table["after"]))
        if after is None or after <= 0:
            raise RoutesError(f"{here}: after: bad duration {table['after']!r} (like 30s, 15m, 2h, 7d, 2w)")
    if "unless" in table and after is None:
        raise RoutesError(f"{here}: unless: goes with after (a delayed check)")
    key = str(table.get("key", DEFAULT_KEY))
    try:
        when = compile_condition(table.get("when"), "when")
        unless = compile_condition(table["unless"], "unless") if "unless" in table else None
    except ConditionError as exc:
        raise RoutesError(f"{here}: {exc}") from None
    try:
        check_key(key)
    except ConditionError as exc:
        raise RoutesError(f"{here}: key: {exc}") from None
    return Route(name, when, tuple(to), queue, after, unless, key, describe(table))


def describe(table: dict[str, Any]) -> str:
    """Return a route as one line: name, condition, delay, sinks and queue."""
    parts = [table["name"] + ":", "when " + (condition_text(table.get("when")) or "every event")]
    if "after" in table:
        parts.append(
            f"after {table['after']} unless {condition_text(table.get('unless')) or 'nothing'}"
            f" (same {table.get('key', DEFAULT_KEY)})"
        )
    parts.append(f"-> {', '.join(table['to'])} on {table.get('queue', 'default')}")
    return " ".join(parts)


def condition_text(table: Any) -> str:
    """Return a condition table as ``key=value`` words."""
    return " ".join(f"{key}={value!r}" for key, value in (table or {}).items())


def load(path: str) -> Routes:
    """Read and validate the routes file at ``path``."""
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise RoutesError(f"{path}: cannot read: {exc.strerror or exc}", UNREADABLE) from None
    except UnicodeDecodeError as exc:  # tomllib decodes the bytes itself, and raises this before any TOML error
        raise RoutesError(f"{path}: cannot read: not UTF-8 text (byte {exc.start})", UNREADABLE) from None
    except tomllib.TOMLDecodeError as exc:
        raise RoutesError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"sinks", "routes"})
    if unknown:
        raise RoutesError(f"{path}: unknown table {unknown[0]!r} (tables: sinks, routes)")
    sinks_table = document.get("sinks", {})
    if not isinstance(sinks_table, dict):
        raise RoutesError(f"{path}: sinks: expected [sinks.NAME] tables")
    sinks = {name: read_sink(name, table, path) for name, table in sinks_table.items()}
    raw_routes = document.get("routes", [])
    if not isinstance(raw_routes, list):
        raise RoutesError(f"{path}: routes: expected [[routes]] tables")
    routes = tuple(read_route(index, table, sinks, path) for index, table in enumerate(raw_routes))
    names = [route.name for route in routes]
    for name in names:
        if names.count(name) > 1:
            raise RoutesError(f"{path}: route {name!r}: name: used by {names.count(name)} routes")
    return Routes(path, sinks, routes)
