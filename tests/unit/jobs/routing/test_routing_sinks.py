"""The sinks against real parts: an HTTP server on a free port, importable Python functions, SQLite files and a
private PostgreSQL; ``db init`` through the CLI."""

import base64
import json
import os
import sqlite3
import stat
import time
import tracemalloc

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, make_url, text

from jobs.routing import sql
from jobs.routing.httpcall import ANSWER_PREVIEW
from jobs.routing.sinks import Permanent, Retryable, deliver
from receiver.procs.stack import free_port
from receiver.routes.sinkcheck import with_driver
from scripts.cli import main as cli
from tests.support import sink_targets
from tests.support.helpers import SETTING_PREFIXES
from tests.support.nginxconf import make_cert
from tests.support.routing_helpers import BIG_NUMBER, ROUTE, Endpoint, fresh_events, sink, write_routes

CONTRACT_COLUMNS = {
    "event_id",
    "repeat_of",
    "capture_id",
    "source",
    "received_at",
    "panel",
    "webhook_name",
    "channel",
    "activity",
    "foreignkey",
    "identity",
    "journey_name",
    "msgid",
    "ts",
    "ts_raw",
    "route",
    "custom_params",
    "att_params",
    "payload_params",
    "raw",
    "warnings",
}
JSON_COLUMNS = {"custom_params", "att_params", "payload_params", "raw", "warnings"}
TABLE = "smartech_events"
HANG_SECONDS = 3.0
SHORT_TIMEOUT = "0.5s"


@pytest.fixture
def endpoint():
    """Yield a recording HTTP endpoint on a free port."""
    server = Endpoint()
    yield server
    server.close()


def push(target, events, data_dir="/nonexistent"):
    """Deliver ``events`` to ``target``; return the events reported delivered, in order (raises as deliver does)."""
    done = []
    deliver(target, events, data_dir, done.extend)
    return done


def failure(target, events, data_dir="/nonexistent"):
    """Deliver ``events`` to ``target`` expecting a failure; return (exception, events reported delivered)."""
    done = []
    with pytest.raises((Retryable, Permanent)) as caught:
        deliver(target, events, data_dir, done.extend)
    return caught.value, done


# --- http -------------------------------------------------------------------------------------------------------


def test_http_posts_each_event_as_its_json_with_content_type_and_idempotency_key(endpoint):
    events = fresh_events(3)
    assert push(sink({"type": "http", "url": endpoint.to("tasks")}), events) == events
    received = endpoint.requests_to("tasks")
    assert [r.method for r in received] == ["POST"] * 3
    assert [r.json() for r in received] == events
    assert endpoint.keys("tasks") == [event["event_id"] for event in events]
    assert all(r.headers["Content-Type"] == "application/json" for r in received)
    assert received[0].json()["raw"]["event_params"]["TRANSID"] == BIG_NUMBER  # exact, not a double


def test_http_headers_and_bearer_token_interpolate_the_environment(endpoint, monkeypatch):
    monkeypatch.setenv("SINK_TENANT", "acme")
    monkeypatch.setenv("SINK_TOKEN", "t0ken")
    target = sink(
        {
            "type": "http",
            "url": endpoint.to("tasks/${SINK_TENANT}"),
            "headers": {"X-Tenant": "${SINK_TENANT}", "X-Fixed": "plain"},
            "auth": {"bearer": "${SINK_TOKEN}"},
        }
    )
    push(target, fresh_events(1))
    [received] = endpoint.requests_to("tasks/acme")
    assert received.headers["X-Tenant"] == "acme"
    assert received.headers["X-Fixed"] == "plain"
    assert received.headers["Authorization"] == "Bearer t0ken"


def test_http_basic_auth_interpolates_the_environment(endpoint, monkeypatch):
    monkeypatch.setenv("SINK_USER", "agent")
    monkeypatch.setenv("SINK_PASSWORD", "pa:ss wörd")
    push(
        sink({"type": "http", "url": endpoint.to("tasks"), "auth": {"basic": "${SINK_USER}:${SINK_PASSWORD}"}}),
        fresh_events(1),
    )
    [received] = endpoint.requests_to("tasks")
    scheme, _, encoded = received.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode("utf-8") == "agent:pa:ss wörd"


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409, 429])
def test_http_5xx_408_409_and_429_are_retryable_and_a_later_try_delivers(endpoint, status):
    target, events = sink({"type": "http", "url": endpoint.to("tasks")}), fresh_events(1)
    endpoint.will_answer("tasks", status)
    exc, done = failure(target, events)
    assert isinstance(exc, Retryable)
    assert f"HTTP {status}" in str(exc)
    assert done == []
    assert push(target, events) == events
    assert endpoint.keys("tasks") == [events[0]["event_id"]] * 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_http_another_4xx_is_permanent_with_the_status_and_the_first_kib_of_the_answer(endpoint, status):
    kept, cut = "k" * ANSWER_PREVIEW, "CUT-HERE"
    endpoint.will_answer("tasks", (status, kept + cut))
    exc, done = failure(sink({"type": "http", "url": endpoint.to("tasks")}), fresh_events(2))
    assert isinstance(exc, Permanent)
    assert f"HTTP {status}" in str(exc) and kept in str(exc) and cut not in str(exc)
    assert done == [] and len(endpoint.requests_to("tasks")) == 1  # the second event was not tried


def test_http_events_before_a_failure_are_reported_delivered_and_the_rest_are_not(endpoint):
    events = fresh_events(3)
    endpoint.will_answer("tasks", 200, 200, 503)
    exc, done = failure(sink({"type": "http", "url": endpoint.to("tasks")}), events)
    assert isinstance(exc, Retryable)
    assert done == events[:2]


def test_http_a_server_that_hangs_past_the_timeout_is_retryable(endpoint):
    endpoint.hang["/slow"] = HANG_SECONDS
    started = time.monotonic()
    exc, _ = failure(sink({"type": "http", "url": endpoint.to("slow"), "timeout": SHORT_TIMEOUT}), fresh_events(1))
    assert isinstance(exc, Retryable)
    assert "Timeout" in str(exc)
    assert time.monotonic() - started < HANG_SECONDS - 1


@pytest.fixture
def https_trust(tmp_path, monkeypatch):
    """Return a self-signed certificate and key the http sink trusts (REQUESTS_CA_BUNDLE)."""
    cert, key = make_cert(str(tmp_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    return cert, key


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_http_the_timeout_bounds_the_whole_request_against_an_answer_trickled_a_byte_at_a_time(scheme, request):
    tls = request.getfixturevalue("https_trust") if scheme == "https" else None
    target = sink_targets.RawTarget("trickle", every=0.3, tls=tls)  # each read waits 0.3 s, the answer ~12 s
    try:
        started = time.monotonic()
        exc, done = failure(sink({"type": "http", "url": target.url, "timeout": "1s"}), fresh_events(1))
        took = time.monotonic() - started
    finally:
        target.close()
    assert isinstance(exc, Retryable) and "within 1s" in str(exc) and done == []
    assert took < 2.0, f"a 1s timeout held the delivery {took:.1f}s"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_http_a_huge_error_answer_is_read_no_further_than_its_first_kib(scheme, request):
    tls = request.getfixturevalue("https_trust") if scheme == "https" else None
    target = sink_targets.RawTarget("huge-error", size=200 << 20, tls=tls)
    tracemalloc.start()
    try:
        exc, _ = failure(sink({"type": "http", "url": target.url, "timeout": "30s"}), fresh_events(1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        target.close()
    assert isinstance(exc, Retryable) and "HTTP 500: " + "x" * ANSWER_PREVIEW in str(exc)
    assert "x" * (ANSWER_PREVIEW + 1) not in str(exc)
    assert peak < 8 << 20, f"the delivery allocated {peak / 2**20:.0f} MiB for a 200 MiB error answer"


def test_http_a_refused_connection_is_retryable():
    exc, _ = failure(sink({"type": "http", "url": f"http://127.0.0.1:{free_port()}/tasks"}), fresh_events(1))
    assert isinstance(exc, Retryable)
    assert "ConnectionError" in str(exc)


def test_http_an_unset_variable_is_permanent_and_nothing_is_sent(endpoint, monkeypatch):
    monkeypatch.delenv("SINK_UNSET_TOKEN", raising=False)
    target = sink({"type": "http", "url": endpoint.to("tasks"), "auth": {"bearer": "${SINK_UNSET_TOKEN}"}})
    exc, _ = failure(target, fresh_events(1))
    assert isinstance(exc, Permanent)
    assert "${SINK_UNSET_TOKEN} is not set" in str(exc)
    assert endpoint.received == []


@pytest.mark.parametrize("url", ["not-a-url", "http://", "ftp://127.0.0.1/tasks"])
def test_http_a_url_that_can_never_be_sent_is_permanent(url, monkeypatch):
    monkeypatch.setenv("SINK_URL", url)  # routes check refuses such a url written in the file; a variable escapes it
    exc, _ = failure(sink({"type": "http", "url": "${SINK_URL}"}), fresh_events(1))
    assert isinstance(exc, Permanent)


# --- python -----------------------------------------------------------------------------------------------------


def test_python_sink_calls_the_function_with_each_event(tmp_path, monkeypatch):
    out = tmp_path / "events.jsonl"
    monkeypatch.setenv("PYTHON_SINK_FILE", str(out))
    events = fresh_events(3)
    assert push(sink({"type": "python", "callable": "examples.python_sink:handle"}), events) == events
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == events
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


@pytest.mark.parametrize("target", ["tests.no_such_module:record", "tests.support.sink_targets:no_such_function"])
def test_python_sink_that_cannot_be_imported_is_permanent(target):
    exc, done = failure(sink({"type": "python", "callable": target}), fresh_events(1))
    assert isinstance(exc, Permanent)
    assert "cannot import" in str(exc) and done == []


def test_python_sink_that_raises_is_retryable_after_the_events_before_it():
    events = fresh_events(3)
    sink_targets.RECEIVED.clear()
    sink_targets.FAIL_ON.add(events[1]["event_id"])
    target = sink({"type": "python", "callable": "tests.support.sink_targets:record"})
    exc, done = failure(target, events)
    assert isinstance(exc, Retryable)
    assert "TargetFailed" in str(exc) and events[1]["event_id"] in str(exc)
    assert done == sink_targets.RECEIVED == events[:1]
    assert push(target, events[1:]) == events[1:]  # the retry: only the rest, and it passes now
    assert sink_targets.RECEIVED == events


# --- sql: SQLite ------------------------------------------------------------------------------------------------


def sqlite_rows(path, table=TABLE):
    """Return every row of ``table`` in the SQLite file ``path`` as dicts, by event_id."""
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        return {row["event_id"]: dict(row) for row in connection.execute(f"SELECT * FROM {table}")}


def test_sqlite_default_database_is_a_private_file_in_the_data_dir_with_the_contract_columns(data_dir):
    events = fresh_events(2)
    assert push(sink({"type": "sql"}), events, data_dir) == events
    path = os.path.join(data_dir, "events.sqlite3")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # events hold customer PII
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    with sqlite3.connect(path) as connection:
        columns = {row[1]: row for row in connection.execute(f"PRAGMA table_info({TABLE})")}
    assert set(columns) == CONTRACT_COLUMNS
    assert [name for name, row in columns.items() if row[5]] == ["event_id"]  # the primary key


def test_sqlite_rows_hold_the_events_and_the_same_events_twice_add_no_row(data_dir):
    events = fresh_events(3)
    target = sink({"type": "sql"})
    push(target, events, data_dir)
    push(target, events[1:] + fresh_events(1), data_dir)  # a retry or a replay, with one new event
    rows = sqlite_rows(os.path.join(data_dir, "events.sqlite3"))
    assert len(rows) == 4
    for event in events:
        row = rows[event["event_id"]]
        assert {column: row[column] for column in CONTRACT_COLUMNS - JSON_COLUMNS} == {
            column: event[column] for column in CONTRACT_COLUMNS - JSON_COLUMNS
        }
        assert {column: json.loads(row[column]) for column in JSON_COLUMNS} == {
            column: event[column] for column in JSON_COLUMNS
        }
    assert str(BIG_NUMBER) in rows[events[0]["event_id"]]["raw"]  # the digits as sent, not a double's


def test_sql_custom_table_and_url(tmp_path):
    path = tmp_path / "elsewhere.db"
    events = fresh_events(2)
    push(sink({"type": "sql", "url": f"sqlite:///{path}", "table": "leads"}), events)
    assert set(sqlite_rows(str(path), "leads")) == {event["event_id"] for event in events}


def test_sql_delivery_with_nothing_left_to_insert_succeeds(data_dir):
    target = sink({"type": "sql"})
    push(target, fresh_events(1), data_dir)
    assert push(target, [], data_dir) == []  # a retry whose events were all taken before


def test_sql_table_dropped_while_the_worker_runs_is_made_again_by_the_retry(data_dir):
    target, path = sink({"type": "sql"}), os.path.join(data_dir, "events.sqlite3")
    push(target, fresh_events(1), data_dir)
    with sqlite3.connect(path) as connection:
        connection.execute(f"DROP TABLE {TABLE}")
    events = fresh_events(2)
    exc, _ = failure(target, events, data_dir)
    assert isinstance(exc, Retryable)
    push(target, events, data_dir)
    assert set(sqlite_rows(path)) == {event["event_id"] for event in events}


def test_sql_unset_variable_in_the_url_is_permanent(monkeypatch, data_dir):
    monkeypatch.delenv("SINK_UNSET_DATABASE_URL", raising=False)
    exc, _ = failure(sink({"type": "sql", "url": "${SINK_UNSET_DATABASE_URL}"}), fresh_events(1), data_dir)
    assert isinstance(exc, Permanent)
    assert "${SINK_UNSET_DATABASE_URL} is not set" in str(exc)


def test_sql_unreachable_database_is_retryable():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    exc, done = failure(sink({"type": "sql", "url": url}), fresh_events(1))
    assert isinstance(exc, Retryable)
    assert "OperationalError" in str(exc) and done == []


# --- sql: PostgreSQL --------------------------------------------------------------------------------------------


def pg_columns(postgres_server, url, table=TABLE):
    """Return ``{column: data_type}`` of ``table`` and its primary-key columns, from information_schema."""
    with postgres_server.connect(make_url(url).database) as connection:
        types = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)
            ).fetchall()
        )
        keys = [
            name
            for (name,) in connection.execute(
                "SELECT k.column_name FROM information_schema.table_constraints c"
                " JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name"
                " WHERE c.table_name = %s AND c.constraint_type = 'PRIMARY KEY'",
                (table,),
            )
        ]
    return types, keys


def pg_rows(postgres_server, url, table=TABLE):
    """Return every row of ``table`` as dicts, by event_id (jsonb read back by psycopg)."""
    with postgres_server.connect(make_url(url).database) as connection:
        cursor = connection.execute(f"SELECT * FROM {table}")
        names = [column.name for column in cursor.description]
        return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


def test_postgres_table_has_the_contract_columns_jsonb_and_event_id_as_key(postgres_server, postgres_url):
    push(sink({"type": "sql", "url": postgres_url}), fresh_events(1))
    types, keys = pg_columns(postgres_server, postgres_url)
    assert set(types) == CONTRACT_COLUMNS
    assert {name for name, kind in types.items() if kind == "jsonb"} == JSON_COLUMNS
    assert keys == ["event_id"]


def test_postgres_same_events_twice_add_no_row_and_big_numbers_stay_exact(postgres_server, postgres_url):
    events = fresh_events(4)
    target = sink({"type": "sql", "url": postgres_url})
    push(target, events[:3])
    push(target, events)  # a retry that holds the first three again
    rows = pg_rows(postgres_server, postgres_url)
    assert set(rows) == {event["event_id"] for event in events}
    for event in events:
        assert {column: rows[event["event_id"]][column] for column in CONTRACT_COLUMNS} == {
            column: event[column] for column in CONTRACT_COLUMNS
        }
    with postgres_server.connect(make_url(postgres_url).database) as connection:
        [(text,)] = connection.execute(
            f"SELECT raw->'event_params'->>'TRANSID' FROM {TABLE} WHERE event_id = %s", (events[0]["event_id"],)
        ).fetchall()
    assert text == str(BIG_NUMBER)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg", "PostgreSQL"])
@pytest.mark.parametrize("through", ["url", "tcp_url"])
def test_postgres_url_spellings_all_reach_the_server(postgres_server, postgres_url, scheme, through):
    url = getattr(postgres_server, through)(make_url(postgres_url).database, scheme=scheme)
    events = fresh_events(1)
    push(sink({"type": "sql", "url": url}), events)
    assert set(pg_rows(postgres_server, postgres_url)) == {events[0]["event_id"]}


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@db/events", "postgresql+psycopg://u@db/events"),
        ("postgres://u:p@db:5433/events?sslmode=require", "postgresql+psycopg://u:p@db:5433/events?sslmode=require"),
        ("postgresql+psycopg2://u@db/events", "postgresql+psycopg2://u@db/events"),
        ("postgresql+asyncpg://u@db/events", "postgresql+asyncpg://u@db/events"),
        ("sqlite:////var/x.db", "sqlite:////var/x.db"),
        ("mysql+pymysql://u@db/events", "mysql+pymysql://u@db/events"),
    ],
)
def test_plain_postgres_urls_get_psycopg_and_explicit_drivers_stay(given, used):
    assert sql.database_url({"url": given}, "/unused") == used


def test_postgres_nul_characters_become_a_replacement_with_a_warning(postgres_server, postgres_url):
    [event] = fresh_events(1)
    event = {**event, "foreignkey": "99\x0099", "custom_params": {"note\x00": "a\x00b"}}
    push(sink({"type": "sql", "url": postgres_url}), [event])
    row = pg_rows(postgres_server, postgres_url)[event["event_id"]]
    assert row["foreignkey"] == "99\ufffd99"
    assert row["custom_params"] == {"note\ufffd": "a\ufffdb"}
    assert row["warnings"] == [sql.NUL_WARNING]


# --- db init ----------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, data_dir, tmp_path):
    """Clear the settings of the environment and return a function that sets the routes file of ``sinks``."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DUMPER_DATA_DIR", data_dir)

    def routes_of(sinks):
        path = write_routes(tmp_path, sinks, [{"name": ROUTE, "to": list(sinks)}])
        monkeypatch.setenv("DUMPER_ROUTES", path)
        return path

    return routes_of


def test_db_init_creates_every_sql_sinks_table(cli_env, data_dir, postgres_server, postgres_url):
    cli_env({"local": {"type": "sql"}, "warehouse": {"type": "sql", "url": postgres_url, "table": "leads"}})
    result = CliRunner().invoke(cli, ["db", "init"])
    assert result.exit_code == 0, result.output
    assert "sink local: sqlite:///" in result.output and "sink warehouse: postgresql+psycopg://" in result.output
    with sqlite3.connect(os.path.join(data_dir, "events.sqlite3")) as connection:
        assert {row[1] for row in connection.execute(f"PRAGMA table_info({TABLE})")} == CONTRACT_COLUMNS
    types, keys = pg_columns(postgres_server, postgres_url, "leads")
    assert set(types) == CONTRACT_COLUMNS and keys == ["event_id"]


def test_a_table_made_before_repeat_of_gets_the_column_and_keeps_its_rows(data_dir, postgres_server, postgres_url):
    old_columns = sorted(CONTRACT_COLUMNS - {"repeat_of", "event_id"})
    os.makedirs(data_dir, mode=0o700)
    for url in (f"sqlite:///{os.path.join(data_dir, 'old.sqlite3')}", postgres_url):
        engine = create_engine(with_driver(url))
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
            connection.execute(
                text(f"CREATE TABLE {TABLE} (event_id TEXT PRIMARY KEY, {', '.join(c + ' TEXT' for c in old_columns)})")
            )
            connection.execute(text(f"INSERT INTO {TABLE} (event_id) VALUES ('h:old')"))
        engine.dispose()
        [event] = fresh_events(1)
        event["repeat_of"] = "c:01KB0000000000000000000001:0"
        assert sql.insert_events({"url": url}, [event], data_dir) == 1
        engine = create_engine(with_driver(url))
        with engine.connect() as connection:
            rows = dict(connection.execute(text(f"SELECT event_id, repeat_of FROM {TABLE}")).all())
        engine.dispose()
        assert rows == {"h:old": None, event["event_id"]: event["repeat_of"]}


def test_db_init_reports_a_database_it_cannot_reach_on_one_line(cli_env):
    cli_env({"warehouse": {"type": "sql", "url": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"}})
    result = CliRunner().invoke(cli, ["db", "init"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: sink warehouse: OperationalError")
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
