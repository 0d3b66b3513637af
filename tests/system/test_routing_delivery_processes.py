"""Delivery jobs run by the real ``smartech-dumper worker``: every kind of sink delivered to, and no secret of a
sink in the worker's log or in ``failed``."""

import json
import os

import pytest
from click.testing import CliRunner
from sqlalchemy import make_url

from receiver.core import queues as queueing
from receiver.procs.stack import free_port
from receiver.routes.status import sink_counts
from scripts.cli import main
from tests.support.helpers import ROOT
from tests.support.procs import run_burst_worker
from tests.support.routing_helpers import capture_with
from tests.unit.jobs.routing import test_routing_delivery as in_process
from tests.unit.jobs.routing.test_routing_delivery import delivery_job, ids_of, send

# The in-process module's fixtures, bound here too: pytest finds a fixture by the module attribute holding it.
endpoint, routed = in_process.endpoint, in_process.routed


@pytest.mark.slow
def test_the_worker_command_delivers_to_every_kind_of_sink(
    routed, endpoint, env, tmp_path, postgres_server, postgres_url
):
    out = tmp_path / "python-sink.jsonl"
    settings = routed(
        {
            "callcenter": {"type": "http", "url": endpoint.to("tasks"), "auth": {"bearer": "${CALLCENTER_TOKEN}"}},
            "refusing": {"type": "http", "url": endpoint.to("refusing")},
            "flaky": {"type": "http", "url": endpoint.to("flaky"), "retries": "1h"},
            "local": {"type": "python", "callable": "examples.python_sink:handle"},
            "warehouse": {"type": "sql", "url": postgres_url},
        }
    )
    endpoint.will_answer("refusing", (404, "no such task list"))
    endpoint.will_answer("flaky", 502)
    capture = capture_with(4)
    ids = ids_of(capture)
    send(settings, capture)
    process_env = dict(
        os.environ,
        **env,
        DUMPER_ROUTES=settings.routes_path,
        CALLCENTER_TOKEN="s3cret-token",
        PYTHON_SINK_FILE=str(out),
        PYTHONPATH=ROOT,  # the python sink's module, as its docstring says
    )
    run_burst_worker(process_env)
    assert endpoint.keys("tasks") == ids
    assert {r.headers["Authorization"] for r in endpoint.requests_to("tasks")} == {"Bearer s3cret-token"}
    assert [json.loads(line)["event_id"] for line in out.read_text().splitlines()] == ids
    with postgres_server.connect(make_url(postgres_url).database) as db:
        assert {row[0] for row in db.execute("SELECT event_id FROM smartech_events")} == set(ids)
    refused = delivery_job(settings, capture, "refusing")
    assert refused.get_status() == "failed" and refused.retries_left == 0
    assert delivery_job(settings, capture, "flaky").get_status() == "scheduled"
    assert sink_counts(settings, queueing.connect(settings)) == {
        "callcenter": {"delivered": 4, "retrying": 0, "dead": 0},
        "refusing": {"delivered": 0, "retrying": 0, "dead": 1},
        "flaky": {"delivered": 0, "retrying": 1, "dead": 0},
        "local": {"delivered": 4, "retrying": 0, "dead": 0},
        "warehouse": {"delivered": 4, "retrying": 0, "dead": 0},
    }


@pytest.mark.slow
def test_no_secret_of_a_sink_reaches_the_worker_log_or_failed(routed, endpoint, env, monkeypatch):
    token, key, password = "T0ken-s3cret-1", "K3y-s3cret-2", "Pa55-s3cret-3"
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the refused connection's error quotes the url
    settings = routed(
        {
            "away": {"type": "http", "url": closed + "/tasks?token=${SINK_TOKEN}&team=ops", "retries": "none"},
            "echoing": {
                "type": "http",
                "url": endpoint.to("tasks"),
                "headers": {"X-Api-Key": "${SINK_KEY}"},
                "auth": {"basic": "user:${SINK_PASSWORD}"},
                "retries": "none",
            },
        }
    )
    endpoint.will_answer("tasks", (500, f"rejected key {key} for user:{password}"))
    secrets = {"SINK_TOKEN": token, "SINK_KEY": key, "SINK_PASSWORD": password}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    send(settings, capture_with(1))
    done = run_burst_worker(dict(os.environ, **env, DUMPER_ROUTES=settings.routes_path))
    assert endpoint.requests_to("tasks")[0].headers["X-Api-Key"] == key  # the secrets were sent, where they belong
    listed = CliRunner().invoke(main, ["failed", "list", "--json"])
    dead = {item["id"]: item for item in json.loads(listed.stdout)}
    assert len(dead) == 2, listed.output
    shown = "".join(CliRunner().invoke(main, ["failed", "show", ident]).output for ident in dead)
    checked = (done.stdout + done.stderr, listed.output, shown)
    for text in checked:
        for secret in secrets.values():
            assert secret not in text
    assert "token=***" in shown and "rejected key *** for ***" in shown  # "user:password" whole
    assert "ConnectionError" in shown
