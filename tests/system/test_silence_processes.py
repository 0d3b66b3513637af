"""Silence is an alert: a source that posted and then went quiet is mailed about and shown in /readyz.

Real processes: `serve` (gunicorn, the forwarder, the alert monitor), a private Redis, a real SMTP server.
"""

import json
import os

import pytest
import requests

from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER, wait_until
from tests.support.procs import start_serve, stop, wait_http
from tests.support.smtp_server import smtp_server

OPEN = {"smartech": [{"webhook_name": "EMAIL_OPEN", "event_params": {"foreignkey": "9999999997"}}]}


@pytest.mark.slow
def test_a_source_that_goes_quiet_is_mailed_about_and_shown_in_readyz(env, data_dir):
    with smtp_server() as (smtp_port, inbox):
        proc_env = {
            **os.environ,
            **env,
            "DUMPER_FORWARDER": "true",
            "DUMPER_SILENCE_AFTER": "3s",
            "DUMPER_ALERT_EMAILS": "ops@example.com",
            "DUMPER_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        }
        port = free_port()
        proc = start_serve(proc_env, port, workers=1)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/healthz", proc)
            answer = requests.post(
                url + "/webhook/crm", data={"data": json.dumps(OPEN)}, auth=(USER, PASSWORD), timeout=10
            )
            assert answer.status_code == 200
            wait_until(
                lambda: "crm" in requests.get(url + "/readyz", timeout=5).json()["sources"]["last_capture_age_seconds"]
            )
            assert requests.get(url + "/readyz", timeout=5).json()["sources"]["silent"] == []  # it just posted
            wait_until(lambda: inbox.messages, timeout=40)
            [message] = inbox.messages
            assert "no posts from crm for" in message["Subject"]
            assert "SILENT: source 'crm' has posted nothing for" in message.get_content()
            assert requests.get(url + "/readyz", timeout=5).json()["sources"]["silent"] == ["crm"]
        finally:
            stop(proc)
