"""The quarantine's and the continuous audit's gauges, scraped from the inspector's /metrics."""

import os
from datetime import UTC, datetime

import pytest

from receiver.core.settings import load
from receiver.inspector import create_app as create_inspector
from receiver.metrics import names
from receiver.ops import quarantine, watch
from tests.unit.receiver.metrics.test_metrics import SCRAPER, SETTING_PREFIXES, auth, samples, value

REQUEST = {"source": "default", "remote_addr": "10.0.0.1", "method": "POST", "path": "/webhook"}


@pytest.fixture
def settings_env(env, monkeypatch):
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    env = {**env, "DUMPER_INSPECT_AUTH": "viewer:look", "DUMPER_METRICS_AUTH": ":".join(SCRAPER)}
    for name, each in env.items():
        monkeypatch.setenv(name, each)
    return env


def scrape(settings_env, **extra):
    client = create_inspector({**settings_env, **extra}).test_client()
    answer = client.get("/metrics", headers=auth(*SCRAPER))
    assert answer.status_code == 200
    return samples(answer.get_data(as_text=True))


def test_the_quarantine_and_the_audit_are_gauged(settings_env, data_dir, redis_conn):
    found = scrape(settings_env)
    assert value(found, names.QUARANTINE_POSTS) is None  # off without an allowlist
    assert value(found, names.AUDIT_MISSING) is None  # never ran
    quarantine.keep(data_dir, 1 << 20, REQUEST, [], b"data=%7B%7D")
    watch.run(load(), redis_conn, datetime.now(UTC))
    found = scrape(settings_env, DUMPER_QUARANTINE="true")
    assert value(found, names.QUARANTINE_POSTS) == 1 and value(found, names.QUARANTINE_RECENT) == 1
    assert value(found, names.QUARANTINE_BYTES) > 0
    assert value(found, names.AUDIT_CAPTURES) == 0 and value(found, names.AUDIT_MISSING) == 0
    assert value(found, names.AUDIT_STUCK) == 0 and 0 <= value(found, names.AUDIT_AGE) < 60
    assert value(scrape(settings_env, DUMPER_AUDIT_WINDOW="off"), names.AUDIT_AGE) is None
