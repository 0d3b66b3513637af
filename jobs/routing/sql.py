"""The sql sink: one row per event in a table of any SQLAlchemy database, inserted idempotently.

The table (default ``smartech_events``) is created on first use, or by
``smartech-dumper db init``; a table made by an older version gets the
columns it lacks (``repeat_of``). ``event_id`` is its primary key and every insert
is ``ON CONFLICT DO NOTHING``, so a retry, a replay or a re-enqueue never
adds a row. JSON columns are JSONB on PostgreSQL, where a NUL character
(which it cannot store) becomes U+FFFD, with a warning in the row's
``warnings``. The default database is SQLite at
``<DUMPER_DATA_DIR>/events.sqlite3`` (0600, like every data file); a plain ``postgresql://`` or
``postgres://`` URL uses psycopg (3).
Failure policy: database errors propagate; the caller retries the delivery.
"""

import json
import os
from typing import Any

from sqlalchemy import JSON, Column, Engine, MetaData, Table, Text, create_engine, inspect
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from receiver.capture.normalise import EVENT_FIELDS
from receiver.core import jsonl
from receiver.routes.sinkcheck import with_driver

DEFAULT_TABLE = "smartech_events"
DEFAULT_FILE = "events.sqlite3"
JSON_COLUMNS = ("custom_params", "att_params", "payload_params", "raw", "warnings")
# Every other field of a normalised event is text, and the route that sent it too: one list, the event's.
TEXT_COLUMNS = (*(field for field in EVENT_FIELDS if field != "event_id" and field not in JSON_COLUMNS), "route")
SQLITE_TIMEOUT = 30  # seconds a writer waits for another's lock
# Plain PostgreSQL schemes get psycopg (3), the driver we install: SQLAlchemy 2.0 picks psycopg2 for
# postgresql:// and knows no postgres:// at all (the spelling Heroku and many tools give).
# PostgreSQL's text and jsonb cannot hold NUL (JSON allows "\u0000"); the replacement character marks the spot.
NUL, NUL_STAND_IN = "\x00", "\ufffd"
NUL_WARNING = "NUL characters replaced by U+FFFD: PostgreSQL cannot store them"
JSON_NUL = "\\u0000"  # how json.dumps writes a NUL (a sent backslash-u0000 matches too: then nothing is replaced)
NUL_REPR = "\\x00"  # how repr() writes a NUL (a sent backslash-x00 matches too: then the walk finds nothing)
_engines: dict[tuple[int, str], Engine] = {}
_tables: dict[tuple[int, str, str], Table] = {}


def default_database(data_dir: str) -> str:
    """Return the path of the default SQLite file, made 0600 in a 0700 data dir if missing (it holds PII)."""
    path = os.path.abspath(os.path.join(data_dir, DEFAULT_FILE))
    if not os.path.exists(path):  # SQLite would make it with the umask's mode, and not make the data dir at all
        jsonl.ensure_dir(os.path.dirname(path))
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, jsonl.FILE_MODE))
    return path


def database_url(options: dict[str, Any], data_dir: str) -> str:
    """Return the sink's URL (with its driver), or the default SQLite file in the data dir."""
    url = options.get("url")
    return with_driver(str(url)) if url else f"sqlite:///{default_database(data_dir)}"


def engine_for(url: str) -> Engine:
    """Return this process's engine for ``url`` (a forked process makes its own)."""
    key = (os.getpid(), url)
    if key not in _engines:
        options: dict[str, Any] = {"connect_args": {"timeout": SQLITE_TIMEOUT}} if url.startswith("sqlite") else {}
        _engines[key] = create_engine(url, pool_pre_ping=True, **options)
    return _engines[key]


def table_key(engine: Engine, name: str) -> tuple[int, str, str]:
    """Return the key of table ``name`` of ``engine`` among the tables this process knows exist."""
    return (os.getpid(), str(engine.url), name)


def table_for(engine: Engine, name: str) -> Table:
    """Return the events table ``name``, creating it in the database if it is missing."""
    key = table_key(engine, name)
    if key not in _tables:
        json_type = JSON().with_variant(JSONB(), "postgresql")
        table = Table(
            name,
            MetaData(),
            Column("event_id", Text, primary_key=True),
            *[Column(column, Text) for column in TEXT_COLUMNS],
            *[Column(column, json_type) for column in JSON_COLUMNS],
        )
        table.metadata.create_all(engine, checkfirst=True)
        add_missing_columns(engine, table)
        _tables[key] = table
    return _tables[key]


def add_missing_columns(engine: Engine, table: Table) -> None:
    """Add the text columns a table made by an older version lacks (``repeat_of``); its rows keep theirs, null."""
    have = {column["name"] for column in inspect(engine).get_columns(table.name)}
    missing = [column for column in TEXT_COLUMNS if column not in have]
    if missing:
        preparer = engine.dialect.identifier_preparer
        with engine.begin() as connection:
            for column in missing:
                connection.exec_driver_sql(
                    f"ALTER TABLE {preparer.quote(table.name)} ADD COLUMN {preparer.quote(column)} TEXT"
                )


def text(value: Any) -> str | None:
    """Return a scalar as text for a text column (a number sent as a foreignkey stays exact)."""
    return None if value is None else value if isinstance(value, str) else str(value)


def row(event: dict[str, Any]) -> dict[str, Any]:
    """Return the row of one event."""
    values: dict[str, Any] = {"event_id": str(event["event_id"])}
    values.update({column: text(event.get(column)) for column in TEXT_COLUMNS})
    values.update({column: event.get(column) for column in JSON_COLUMNS})
    return values


def without_nul(value: Any) -> Any:
    """Return ``value`` with every NUL in its strings, keys included, replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace(NUL, NUL_STAND_IN)
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def postgres_row(values: dict[str, Any]) -> dict[str, Any]:
    """Return a row PostgreSQL can store: NULs replaced, and a warning saying so."""
    if NUL_REPR not in repr(values):  # one pass in C; the walk below costs a quarter of a batch's time
        return values
    cleaned: dict[str, Any] = without_nul(values)
    if cleaned != values:
        cleaned["warnings"] = [*(cleaned.get("warnings") or []), NUL_WARNING]
    return cleaned


def insert_events(options: dict[str, Any], events: list[dict[str, Any]], data_dir: str) -> int:
    """Insert ``events`` (one transaction), skipping any whose event_id is already there; return the rows sent."""
    if not events:  # every event taken before (a retry, a replay): an empty INSERT would fail, and forever
        return 0
    engine = engine_for(database_url(options, data_dir))
    name = str(options.get("table") or DEFAULT_TABLE)
    table = table_for(engine, name)
    rows = [row(event) for event in events]
    try:
        write_rows(engine, table, rows)
    except Exception:
        _tables.pop(table_key(engine, name), None)  # the table may have been dropped: the retry makes it again
        raise
    return len(rows)


def write_rows(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` in one transaction, leaving out those whose event_id the table holds."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite if engine.dialect.name == "sqlite" else None
    with engine.begin() as connection:
        if dialect is postgresql:
            connection.execute(*recordset_insert(table, rows))
        elif dialect is not None:
            connection.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=["event_id"]), rows)
        else:  # another database: skip the ids it holds, then insert the rest
            have = {
                value
                for (value,) in connection.execute(
                    table.select()
                    .with_only_columns(table.c.event_id)
                    .where(table.c.event_id.in_([r["event_id"] for r in rows]))
                )
            }
            fresh = [r for r in rows if r["event_id"] not in have]
            if fresh:
                connection.execute(table.insert(), fresh)


def recordset_insert(table: Table, rows: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Return PostgreSQL's one statement for ``rows``: all of them as one JSON array, made rows by the server.

    The statement's text depends on the table alone, so it is planned once; sending one JSON document
    costs one ``json.dumps`` in C instead of a bound value per cell. A JSON column's ``None`` is stored as
    JSON ``null``, as SQLAlchemy's JSONB column stores it.
    """
    names = [column.name for column in table.columns]
    quoted = [f'"{name}"' for name in names]
    types = [f"{q} {'jsonb' if name in JSON_COLUMNS else 'text'}" for name, q in zip(names, quoted)]
    picks = [f"COALESCE(r.{q}, 'null'::jsonb)" if name in JSON_COLUMNS else f"r.{q}" for name, q in zip(names, quoted)]
    statement = sql_text(
        f'INSERT INTO "{table.name}" ({", ".join(quoted)}) SELECT {", ".join(picks)} '
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({', '.join(types)}) ON CONFLICT (event_id) DO NOTHING"
    )
    document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    if JSON_NUL in document:  # else one NUL fails the whole batch at every retry: clean the rows that hold one
        document = json.dumps([postgres_row(values) for values in rows], ensure_ascii=False, separators=(",", ":"))
    return statement, {"rows": document}


def init_table(options: dict[str, Any], data_dir: str) -> str:
    """Create the sink's table if missing; return where it is (the URL without a password)."""
    engine = engine_for(database_url(options, data_dir))
    table_for(engine, str(options.get("table") or DEFAULT_TABLE))
    return f"{engine.url.render_as_string(hide_password=True)} table {options.get('table') or DEFAULT_TABLE}"
