"""`smartech-dumper serve` runs gunicorn with our configuration, or refuses bad settings."""

import os
import subprocess

import pytest
import requests

from scripts.run.up import free_port
from tests.helpers import PASSWORD, USER
from tests.procs import BIN, stop, wait_http


@pytest.mark.slow
def test_serve_answers_webhooks(env):
    port = free_port()
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        answer = requests.post(
            f"http://127.0.0.1:{port}/webhook", data={"data": "[]"}, auth=(USER, PASSWORD), timeout=10
        )
        assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    finally:
        output = stop(proc)
    assert "Using worker: receiver.gunicorn_worker.Worker" in output  # gevent, from receiver/gunicorn_conf.py


@pytest.mark.parametrize("name, value", [("DUMPER_TRUSTED_PROXIES", "many"), ("WEB_CONCURRENCY", "four")])
def test_serve_refuses_bad_settings_naming_them(env, name, value):
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "serve"],
        env={**os.environ, **env, name: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert name in done.stderr and "Traceback" not in done.stderr
