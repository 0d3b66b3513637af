"""Erase one customer's rows from every sql sink of the routes file, for ``forget``.

A row is the customer's when its ``foreignkey`` or its ``identity`` is one of
their ids (an e-mail address whatever its case). ``dry_run`` counts them.
On SQLite the deleted rows' bytes are zeroed (``secure_delete``) and the
write-ahead log emptied, so no byte of theirs stays in the file.

Failure policy: a routes file that cannot be read, and database errors,
propagate: ``forget`` reports them and says the sinks were not cleaned.
"""

from sqlalchemy import func, or_, select

from jobs.routing.sinks import interpolate
from jobs.routing.sql import DEFAULT_TABLE, database_url, engine_for, table_for
from receiver.routes import config

SQL = "sql"


def forget_rows(routes_path: str, data_dir: str, ids: set[str], dry_run: bool) -> dict[str, int]:
    """Delete (or count) the rows of ``ids`` in each sql sink; return the rows by sink name."""
    if not routes_path or not ids:
        return {}
    names = sorted(ids | {name.casefold() for name in ids if "@" in name})
    found = {}
    for sink in config.load(routes_path).sinks.values():
        if sink.type != SQL:
            continue
        options = interpolate(sink.options, f"sink {sink.name!r}")
        engine = engine_for(database_url(options, data_dir))
        table = table_for(engine, str(options.get("table") or DEFAULT_TABLE))
        theirs = or_(
            func.lower(table.c.identity).in_(names), table.c.foreignkey.in_(names), table.c.identity.in_(names)
        )
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA secure_delete=ON")  # the deleted rows' bytes are zeroed
            found[sink.name] = connection.execute(select(func.count()).select_from(table).where(theirs)).scalar_one()
            if not dry_run:
                connection.execute(table.delete().where(theirs))
        if engine.dialect.name == "sqlite" and not dry_run:
            with engine.connect() as connection:  # and the old pages leave the write-ahead log
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return found
