"""``db init``: make the table of every sql sink of the routes file, if missing.

The making itself is the worker's (``jobs.routing.sql``, with the sink's
``${VARIABLE}``s filled in), which the caller passes in: nothing under
``receiver`` imports ``jobs``.

Failure policy: a routes file with no sql sink raises ``NoSqlSink``; a table
that cannot be made (a database that is away, a bad URL, no permission)
raises ``TableError`` naming the sink, and stops there: the tables already
made stay. Nothing is printed here.
"""

from collections.abc import Callable, Iterator

from receiver.routes.config import Routes, Sink

SQL = "sql"
TableMaker = Callable[[Sink], str]  # makes the sink's table if missing; returns where it is


class NoSqlSink(Exception):
    """The routes file names no sql sink; the message names the file."""


class TableError(Exception):
    """A sql sink's table could not be made; the message names the sink."""


def sql_sinks(routes: Routes) -> list[Sink]:
    """Return the sql sinks of ``routes``, or raise ``NoSqlSink``."""
    found = [sink for sink in routes.sinks.values() if sink.type == SQL]
    if not found:
        raise NoSqlSink(f"{routes.path} has no sql sink")
    return found


def make_tables(routes: Routes, make: TableMaker, named: tuple[type[Exception], ...] = ()) -> Iterator[tuple[str, str]]:
    """Make each sql sink's table, yielding ``(sink name, where)`` as each is ready.

    ``named`` are the errors of ``make`` whose message already names the sink; any
    other error is prefixed with the sink and the error's type.
    """
    for sink in sql_sinks(routes):
        try:
            where = make(sink)
        except named as exc:
            raise TableError(str(exc)) from None
        except Exception as exc:  # SQLAlchemy's errors: a database that is away, a bad URL, no permission
            raise TableError(f"sink {sink.name}: {type(exc).__name__}: {exc}") from None
        yield sink.name, where
