"""Silence is an alert: each recent source's age and the threshold in /metrics, and the rule that fires past it."""

import subprocess

from receiver.core import queues as queueing
from receiver.core.settings import load
from receiver.forwarder import sources
from receiver.metrics.collector import StateCollector
from tests.unit.receiver.metrics.test_metrics import RULES, without_annotations


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
