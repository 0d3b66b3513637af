"""The routes file at runtime: a file that goes bad leaves the last good routes in force, every reader names an
unreadable file in one line, and ``routes check`` refuses a pattern RE2 cannot run.

Real parts, in this process: the private Redis, a recording HTTP sink, the CLI commands and the inspector app.
"""

import logging
import os
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from receiver.core import layout
from receiver.forwarder import cursor
from receiver.inspector import create_app
from receiver.routes import live
from scripts.cli import main
from tests.support.capture_factory import make_capture, smartech_body, write_captures
from tests.support.routing_helpers import Endpoint, write_routes
from tests.unit.receiver.inspector.test_inspector import AUTH, headers

NOT_UTF8 = b"\xff\xfe[sinks.cc]\n"


@pytest.fixture
def endpoint():
    """Yield a recording HTTP endpoint on a free port."""
    server = Endpoint()
    yield server
    server.close()


def routes_to(tmp_path, endpoint):
    """Write a routes file sending every event to the endpoint's /tasks; return its path."""
    sinks = {"cc": {"type": "http", "url": endpoint.to("tasks")}}
    return write_routes(tmp_path, sinks, [{"name": "all", "to": ["cc"]}])


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"(a)\1", "invalid escape sequence"), ("(?=a)", "invalid perl operator"), ("(?<!a)b", "invalid perl operator")],
    ids=["backreference", "lookahead", "lookbehind"],
)
def test_routes_check_refuses_a_pattern_re2_cannot_run_naming_file_route_and_key(tmp_path, pattern, why):
    path = write_routes(
        tmp_path,
        {"cc": {"type": "python", "callable": "m:f"}},
        [{"name": "r", "to": ["cc"], "when": {"foreignkey": {"matches": pattern}}}],
    )
    result = CliRunner().invoke(main, ["routes", "check", path])
    assert result.exit_code == 1
    assert f"{path}: route 'r': when.foreignkey.matches: bad regular expression for RE2" in result.output
    assert why in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["routes", "check"], ["check"], ["worker", "--burst"], ["serve"]])
@pytest.mark.parametrize("content", [NOT_UTF8, None], ids=["not-utf8", "missing"])
def test_every_reader_names_an_unreadable_routes_file_in_one_line(tmp_path, env, command, content):
    path = tmp_path / "routes.toml"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, command, env={**env, "DUMPER_ROUTES": str(path)})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    [line] = [line for line in result.output.splitlines() if str(path) in line]
    assert "cannot read" in line
    assert "not UTF-8 text" in line if content else "No such file" in line


def test_the_inspector_shows_a_capture_when_the_routes_file_is_not_utf8(tmp_path, env, data_dir, caplog):
    path = tmp_path / "routes.toml"
    path.write_bytes(NOT_UTF8)
    capture = make_capture(datetime.now(UTC), smartech_body("SMS_CLICK"))
    write_captures(data_dir, [capture])
    day = capture["received_at"][:10]  # handed to the queue: the page asks where its deliveries went
    cursor.save(data_dir, cursor.Cursor(day, os.path.getsize(layout.day_path(data_dir, layout.CAPTURES, day))))
    client = create_app({**env, "DUMPER_INSPECT_AUTH": AUTH, "DUMPER_ROUTES": str(path)}).test_client()
    logging.getLogger("receiver.routing").addHandler(caplog.handler)  # "receiver" does not propagate to the root
    for url in (f"/captures/{capture['id']}", f"/api/captures/{capture['id']}"):
        answer = client.get(url, headers=headers())
        assert answer.status_code == 200, (url, answer.data[:300])
    logging.getLogger("receiver.routing").removeHandler(caplog.handler)
    assert any(f"{path}: cannot read: not UTF-8" in record.getMessage() for record in caplog.records)


def test_a_routes_file_turned_invalid_keeps_the_last_good_routes_and_is_recorded_once(tmp_path, endpoint, redis_conn):
    path = routes_to(tmp_path, endpoint)
    good = live.current(path, redis_conn, "smartech")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('[[routes]]\nname = "all"\nto = ["cc"]\n')  # a second route of the same name
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new modification time, however coarse the clock
    for _ in range(3):
        assert live.current(path, redis_conn, "smartech") is good
    [problem] = live.recorded(redis_conn, "smartech")
    assert problem["kind"] == "invalid" and f"{path}: route 'all': name: used by 2 routes" in problem["error"]
    routes_to(tmp_path, endpoint)
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert live.current(path, redis_conn, "smartech") is not good
    assert live.recorded(redis_conn, "smartech") == []
