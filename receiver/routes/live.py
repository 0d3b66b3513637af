"""The routes in force: the routes file as last read good, kept when the file vanishes or turns invalid.

``current`` reads the file again when its modification time changes. When it
is missing, unreadable or invalid, the last good routes stay in force: the
problem is logged once per host (and once more when it is over: processes of
one host tell each other through the Redis record), and, given a Redis
connection, recorded in the hash ``smartech-dumper:<queue>:routes-problems``
(one field per host and file, refreshed while the problem lasts, expiring
``PROBLEM_TTL`` after the last refresh) for ``/readyz`` and the alerts.

Failure policy: ``current`` raises ``RoutesError`` (never a raw OSError or
UnicodeDecodeError) only when this process never read the file good; a
worker reads it at start, so its jobs always route by some good version.
Recording the problem in Redis never raises: it is best effort, the log has it.
"""

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis

from receiver.core import keys
from receiver.routes.config import UNREADABLE, Routes, RoutesError, load

log = logging.getLogger("receiver.routing")  # under "receiver": the worker and serve format and show it
PROBLEM_TTL = 900  # seconds a recorded problem outlives its last refresh (a worker that died stops refreshing)
PROBLEM_REFRESH = 60.0  # seconds between two refreshes of the same problem by one process
MISSING = "missing"  # a third kind beside config's unreadable and invalid: the file is not there


@dataclass
class Problem:
    """What is wrong with a routes file, since when, and when this process last told Redis."""

    kind: str
    text: str
    since: float
    told: float = 0.0


_good: dict[str, tuple[float, Routes]] = {}  # path -> (mtime, routes) of the last good read
_problems: dict[str, Problem] = {}


def read(path: str) -> tuple[float, Routes]:
    """Return the modification time and the routes of ``path``, reading the file only if it changed."""
    try:
        mtime = os.stat(path).st_mtime
    except FileNotFoundError:
        raise RoutesError(f"{path}: cannot read: the file is gone", MISSING) from None
    except OSError as exc:
        raise RoutesError(f"{path}: cannot read: {exc.strerror or exc}", UNREADABLE) from None
    if path in _good and _good[path][0] == mtime:
        return _good[path]
    return mtime, load(path)


def current(path: str, connection: redis.Redis | None = None, queue: str = "") -> Routes:
    """Return the routes in force for ``path``: the file's if good, else the last good ones (see the module)."""
    before = _good.get(path)
    try:
        _good[path] = read(path)
    except RoutesError as exc:
        met(path, exc, connection, queue)
        if path not in _good:
            raise
        return _good[path][1]
    changed = before is not None and before[0] != _good[path][0]  # a forked job never saw its sibling's problem
    if path in _problems or (changed and connection is not None):
        over(path, connection, queue)
    return _good[path][1]


def field(path: str) -> str:
    """Return this host's field of the problems hash for ``path``."""
    return f"{socket.gethostname()}:{path}"


def met(path: str, exc: RoutesError, connection: redis.Redis | None, queue: str) -> None:
    """Log a new problem once per host, and record it in Redis (again every ``PROBLEM_REFRESH`` seconds)."""
    now = time.time()
    problem = _problems.get(path)
    if problem is None or problem.text != str(exc):
        known = told_here(connection, queue, path)  # a sibling process (a forked job, a gunicorn worker) told it
        since = problem.since if problem else known["since"] if known else now
        problem = _problems[path] = Problem(exc.kind, str(exc), since)
        if known is None or known["error"] != problem.text:
            kept = "the last good routes stay in force" if path in _good else "no routes were ever read good here"
            log.error("routes file unusable, %s: %s", kept, exc)
    if connection is not None and now - problem.told >= PROBLEM_REFRESH:
        record = {"kind": problem.kind, "error": problem.text, "since": problem.since, "host": socket.gethostname()}
        try:
            with connection.pipeline(transaction=False) as pipe:
                pipe.hset(keys.routes_problems(queue), field(path), json.dumps(record))
                pipe.expire(keys.routes_problems(queue), PROBLEM_TTL)
                pipe.execute()
            problem.told = now
        except redis.RedisError as error:
            log.warning("routes problem not recorded in Redis: %s", error)


def told_here(connection: redis.Redis | None, queue: str, path: str) -> dict[str, Any] | None:
    """Return the problem this host recorded for ``path``, or None (none, no connection, Redis away)."""
    if connection is None:
        return None
    try:
        value = connection.hget(keys.routes_problems(queue), field(path))
        return parse(value) if value is not None else None
    except redis.RedisError:
        return None


def over(path: str, connection: redis.Redis | None, queue: str) -> None:
    """Log that the routes file is good again (once per host: whoever clears the record), and clear it."""
    problem = _problems.pop(path, None)
    cleared = problem is not None
    if connection is not None:
        try:
            cleared = bool(connection.hdel(keys.routes_problems(queue), field(path)))
        except redis.RedisError as error:
            log.warning("routes problem not cleared in Redis: %s", error)
    if cleared:
        log.warning("routes file %s is good again; its routes are in force", path)


def parse(value: Any) -> dict[str, Any] | None:
    """Return a recorded problem as ``{"kind", "error", "since"}``, or None if it cannot be read."""
    try:
        record = json.loads(value)
        return {"kind": str(record["kind"]), "error": str(record["error"]), "since": float(record["since"])}
    except (ValueError, KeyError, TypeError):
        return None


def recorded(connection: redis.Redis, queue: str) -> list[dict[str, Any]]:
    """Return the problems recorded in Redis, oldest first (unreadable records are skipped)."""
    found = [parse(value) for value in connection.hvals(keys.routes_problems(queue))]
    return sorted((record for record in found if record is not None), key=lambda record: record["since"])
