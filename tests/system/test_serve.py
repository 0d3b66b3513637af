"""`smartech-dumper serve` runs gunicorn with our configuration, or refuses bad settings."""

import os
import subprocess

import pytest
import requests

from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER
from tests.support.procs import BIN, stop, wait_http


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
    assert "Using worker: receiver.web.gunicorn_worker.Worker" in output  # gevent, from receiver/web/gunicorn_conf.py


@pytest.mark.parametrize(
    "name, value",
    [
        ("DUMPER_TRUSTED_PROXIES", "many"),
        ("WEB_CONCURRENCY", "four"),
        ("WEB_CONCURRENCY", "257"),
        ("DUMPER_WEB_CONNECTIONS", "100001"),
        ("DUMPER_MAX_BYTES", str(256 * 1024 * 1024 + 1)),
        ("DUMPER_QUEUE", "a b:c"),
    ],
)
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


def test_serve_warns_about_a_misspelt_variable_naming_the_setting_it_meant(env):
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "serve"],
        # and a bad value, so serve stops at once: the warning comes first, whatever follows
        env={**os.environ, **env, "DUMPER_ALLOWED_IPZ": "10.0.0.0/8", "WEB_CONCURRENCY": "0"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stderr.startswith(
        "smartech-dumper: warning: DUMPER_ALLOWED_IPZ is not a setting and is ignored: did you mean DUMPER_ALLOWED_IPS?"
    )
