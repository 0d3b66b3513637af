"""The examples run as their docstrings say, in a process of their own: the call-centre stub as a script."""

import signal
import sys

import pytest
import requests

from receiver.procs.stack import free_port
from tests.support.helpers import ROOT, wait_until
from tests.support.procs import logged_popen, output_of, stop


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
