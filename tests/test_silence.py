"""Silence is an alert: a source that posted and then went quiet is mailed about, shown in /readyz and /metrics.

Real processes: `serve` (gunicorn, the forwarder, the alert monitor), a private Redis, a real SMTP server.
"""

import json
import os
import subprocess

import pytest
import requests

from receiver.core import queues as queueing
from receiver.core.settings import load
from receiver.forwarder import sources
from receiver.metrics.collector import StateCollector
from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER, wait_until
from tests.support.procs import start_serve, stop, wait_http
from tests.support.smtp_server import smtp_server
from tests.unit.receiver.metrics.test_metrics import RULES, without_annotations

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


def test_metrics_give_each_recent_sources_age_and_the_threshold(env, redis_conn):
    settings = load(environ={**env, "DUMPER_SILENCE_AFTER": "2h"})
    now = 1_800_000_000.0
    connection = queueing.connect(settings)
    sources.note(connection, settings.queue, [{"source": "crm", "received_at": "2027-01-15T07:50:00.000Z"}])
    sources.note(connection, settings.queue, [{"source": "crm", "received_at": "2027-01-15T07:00:00.000Z"}])  # older
    sources.note(connection, settings.queue, [{"source": "old", "received_at": "2026-01-01T00:00:00.000Z"}])
    families = {family.name: family for family in StateCollector(settings, connection, clock=lambda: now).collect()}
    ages = {
        sample.labels["source"]: sample.value for sample in families["smartech_dumper_last_capture_age_seconds"].samples
    }
    assert ages == {"crm": now - 1_800_000_000.0 + 600.0}  # GT kept the newest; a source quiet for 7 days is gone
    [threshold] = families["smartech_dumper_silence_after_seconds"].samples
    assert threshold.value == 7200


def test_the_silence_rule_fires_past_the_threshold_and_never_without_one(tmp_path):
    with open(RULES, encoding="utf-8") as handle:
        (tmp_path / "rules.yml").write_text(without_annotations(handle.read()))
    labels = '{instance="r1", job="sd"}'
    source = '{instance="r1", job="sd", source="crm"}'
    tests = f"""rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'smartech_dumper_last_capture_age_seconds{source}'
        values: '7000 7300 7400'
      - series: 'smartech_dumper_silence_after_seconds{labels}'
        values: '7200 7200 7200'
    alert_rule_test:
      - eval_time: 0m
        alertname: SmartechDumperSourceSilent
        exp_alerts: []
      - eval_time: 1m
        alertname: SmartechDumperSourceSilent
        exp_alerts:
          - exp_labels: {{severity: warning, instance: r1, job: sd, source: crm}}
  - interval: 1m
    input_series:
      - series: 'smartech_dumper_last_capture_age_seconds{source}'
        values: '99999 99999'
    alert_rule_test:
      - eval_time: 1m
        alertname: SmartechDumperSourceSilent
        exp_alerts: []
"""
    (tmp_path / "tests.yml").write_text(tests)
    done = subprocess.run(["promtool", "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
