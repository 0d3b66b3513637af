"""The examples work as their docstrings say: the call-centre stub behind a real http sink, run as a script."""

import io
import os
import signal
import sys

import pytest
import requests

from examples import callcenter_stub
from jobs.routing.sinks import deliver
from receiver.procs.stack import free_port
from tests.support.helpers import serve, wait_until
from tests.support.procs import logged_popen, output_of, stop
from tests.support.routing_helpers import fresh_events, sink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_callcenter_stub_prints_each_task_the_http_sink_sends_and_answers_200():
    out = io.StringIO()
    server = serve(callcenter_stub.create_app(out))
    url = next(server)
    try:
        events = fresh_events(2)
        events[1]["att_params"]["NAME"] = "\x9b2Jmallory"  # a C1 control JSON leaves as is must not reach a terminal
        done = []
        deliver(sink({"type": "http", "url": url + "/tasks"}), events, "/unused", done.extend)
    finally:
        server.close()
    assert done == events
    printed = out.getvalue()
    for event in events:
        assert f"POST /tasks Idempotency-Key: {event['event_id']}" in printed
        assert f'"foreignkey": "{event["foreignkey"]}"' in printed
    assert "\x9b" not in printed and "\\x9b2Jmallory" in printed


@pytest.mark.slow
def test_callcenter_stub_runs_as_a_script_on_the_given_port():
    port = free_port()
    proc = logged_popen([sys.executable, "examples/callcenter_stub.py", "--port", str(port)], None, cwd=ROOT)
    try:
        answer = wait_until(lambda: answered(f"http://127.0.0.1:{port}/tasks"), timeout=30)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
        wait_until(lambda: "Idempotency-Key: key-1" in output_of(proc))
    finally:
        out = stop(proc, signal.SIGINT)
    assert '"lead": "42"' in out


def answered(url):
    """POST one task to ``url``; return the answer, or None while nothing listens."""
    try:
        return requests.post(url, json={"lead": "42"}, headers={"Idempotency-Key": "key-1"}, timeout=2)
    except requests.ConnectionError:
        return None
