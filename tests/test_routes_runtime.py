"""The routes file at runtime: a file that goes bad leaves the last good routes in force, every reader names an
unreadable file in one line, and no regex of it can hang a worker.

Real parts: ``serve`` and ``worker`` processes, the private Redis, a recording HTTP sink, the CLI
commands and the inspector app.
"""

import contextlib
import logging
import os
import time
from datetime import UTC, datetime

import pytest
import requests
from click.testing import CliRunner

from receiver.core import layout
from receiver.core.settings import load
from receiver.forwarder import cursor
from receiver.inspector import create_app
from receiver.ops.alert_text import body, conditions, subject
from receiver.ops.monitor import Monitor
from receiver.routes import live
from scripts.cli import main
from tests.support.capture_factory import make_capture, smartech_body, write_captures
from tests.support.helpers import wait_until
from tests.support.procs import Web, output_of, post_event, start_worker, stop
from tests.support.routing_helpers import Endpoint, write_routes
from tests.system.test_routing_e2e import lead, post
from tests.unit.receiver.inspector.test_inspector import AUTH, headers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_UTF8 = b"\xff\xfe[sinks.cc]\n"
UNUSABLE = "routes file unusable"


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


def readyz_routes(web):
    """Return the ``routes`` part of ``/readyz``."""
    return requests.get(web.url + "/readyz", timeout=10).json()["routes"]


@contextlib.contextmanager
def running(env, path, worker_class="simple"):
    """Run ``serve`` (with its forwarder) and one worker on the routes file ``path``; yield (web, worker, env)."""
    full = {**os.environ, **env, "DUMPER_FORWARDER": "true", "DUMPER_ROUTES": path, "PYTHONPATH": ROOT}
    full["DUMPER_RETRY_INTERVALS"] = "1s"
    web, worker = Web(full), start_worker(full, worker_class=worker_class)
    try:
        yield web, worker, full
    finally:
        os.killpg(worker.pid, 15)
        stop(worker)
        web.stop()


@pytest.mark.slow
@pytest.mark.parametrize("worker_class", ["simple", "fork"])  # fork: each job in a child, the log still says it once
def test_a_routes_file_that_vanishes_or_turns_unreadable_leaves_the_last_good_routes_in_force(
    env, tmp_path, endpoint, redis_conn, worker_class
):
    path = routes_to(tmp_path, endpoint)
    with running(env, path, worker_class) as (web, worker, full):
        post_event(web.url, "good-1")
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 1, timeout=60)

        os.rename(path, path + ".away")
        for guid in ("gone-1", "gone-2"):
            post_event(web.url, guid)
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 3, timeout=60)
        problems = wait_until(lambda: readyz_routes(web)["problems"])
        assert [problem["kind"] for problem in problems] == ["missing"]

        with open(path, "wb") as handle:
            handle.write(NOT_UTF8)
        for guid in ("bytes-1", "bytes-2"):
            post_event(web.url, guid)
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 5, timeout=60)
        wait_until(lambda: [p["kind"] for p in readyz_routes(web)["problems"]] == ["unreadable"])
        state = requests.get(web.url + "/readyz", timeout=10).json()
        assert state["redis"]["failed_count"] == 0 and state["redis"]["retrying"] == 0
        assert "not UTF-8" not in requests.get(web.url + "/readyz", timeout=10).text  # kinds and ages, no error text

        settings = load(full)
        snapshot = Monitor(settings).observe()
        found = conditions(snapshot, settings)
        assert "routes file unusable" in subject(found)
        assert f"{path}: cannot read: not UTF-8 text (byte 0)" in body(found, snapshot, settings, 0)

        logged = output_of(worker)
        assert logged.count(UNUSABLE) == 2, logged  # once per problem, not once per job
        assert f"{path}: cannot read: the file is gone" in logged
        assert f"{path}: cannot read: not UTF-8 text" in logged
        assert "Traceback" not in logged

        routes_to(tmp_path, endpoint)  # good again, with a new modification time
        post_event(web.url, "back-1")
        wait_until(lambda: len(endpoint.requests_to("tasks")) == 6, timeout=60)
        wait_until(lambda: readyz_routes(web)["ok"])
        assert "is good again" in output_of(worker)


@pytest.mark.slow
def test_a_backtracking_regex_cannot_hang_the_worker(env, tmp_path, endpoint):
    sinks = {"cc": {"type": "http", "url": endpoint.to("tasks")}}
    when = {"foreignkey": {"matches": "^(a+)+$"}}  # exponential in Python's re on "aaa…a!"
    path = write_routes(tmp_path, sinks, [{"name": "evil", "to": ["cc"], "when": when}])
    with running(env, path) as (web, worker, _):
        started = time.monotonic()
        post(web, [lead("s1", "hostile", foreignkey="a" * 41 + "!"), lead("s1", "fine", foreignkey="a" * 41)])
        wait_until(lambda: endpoint.requests_to("tasks"), timeout=10)
        elapsed = time.monotonic() - started
        [task] = endpoint.requests_to("tasks")
        assert task.json()["foreignkey"] == "a" * 41
        state = requests.get(web.url + "/readyz", timeout=10).json()
        assert state["redis"]["failed_count"] == 0 and state["redis"]["retrying"] == 0, state
        assert elapsed < 10, elapsed


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
