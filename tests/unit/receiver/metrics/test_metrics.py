"""GET /metrics: counters and collector against the private Redis and real data files; its auth and settings."""

import base64
import os
import subprocess
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from jobs.worker.runner import build_worker
from receiver.core import queues as queueing
from receiver.core.settings import SettingsError, load
from receiver.forwarder import enqueue
from receiver.inspector import create_app as create_inspector
from receiver.metrics import counters, labels, multiproc, names, tally
from receiver.ops.alert_text import conditions
from receiver.web import create_app as create_receiver
from scripts.view.inspect import inspect
from tests.support.batches import forget
from tests.support.capture_factory import make_capture, write_captures
from tests.support.helpers import ROOT, SETTING_PREFIXES, basic
from tests.support.routing_helpers import Endpoint, capture_with, write_routes

INSPECT = ("viewer", "look")
SCRAPER = ("prometheus", "scrape-pw")
INVALID_JSON = "data=%7B%22p%22%3A%5B"


def auth(user, password):
    """Return a basic Authorization header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def samples(text):
    """Return ``{(name, frozenset(labels)): value}`` of an exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **label_values):
    """Return the value of one sample, or None if the scrape has none."""
    return found.get((name, frozenset(label_values.items())))


@pytest.fixture
def settings_env(env, monkeypatch):
    """Set the test settings, with the inspector's and Prometheus's credentials, in the environment."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    full = {**env, "DUMPER_INSPECT_AUTH": ":".join(INSPECT), "DUMPER_METRICS_AUTH": ":".join(SCRAPER)}
    for name, item in full.items():
        monkeypatch.setenv(name, item)
    return full


@pytest.fixture
def inspector(settings_env):
    """Return a test client of the inspector app."""
    return create_inspector(settings_env).test_client()


def scrape(client, who=INSPECT):
    """Return the samples of one authenticated scrape."""
    answer = client.get("/metrics", headers=auth(*who))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    return samples(answer.get_data(as_text=True))


def send(settings, capture):
    """Queue ``capture`` as the forwarder does."""
    assert enqueue.enqueue_capture(queueing.get_queue(settings), capture, settings)


def drain(settings):
    """Run our worker in this process until its queues are empty."""
    worker = build_worker(settings)
    worker.work(burst=True, logging_level="WARNING")
    worker.connection.close()


def test_metrics_needs_the_inspectors_or_prometheuss_credentials(inspector):
    assert inspector.get("/metrics").status_code == 401
    assert inspector.get("/metrics", headers=auth("viewer", "wrong")).status_code == 401
    assert inspector.get("/metrics", headers=auth(*INSPECT)).status_code == 200
    assert inspector.get("/metrics", headers=auth(*SCRAPER)).status_code == 200
    # Prometheus's credentials open /metrics only, never a page of captures.
    assert inspector.get("/", headers=auth(*SCRAPER)).status_code == 401
    assert inspector.get("/api/captures", headers=auth(*SCRAPER)).status_code == 401


def test_metrics_keeps_the_inspectors_allowlist(settings_env):
    client = create_inspector({**settings_env, "DUMPER_INSPECT_ALLOWED_IPS": "10.0.0.0/8"}).test_client()
    assert client.get("/metrics", headers=auth(*SCRAPER)).status_code == 403


def test_the_webhook_port_answers_metrics_404(env):
    client = create_receiver(env).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": basic()}).status_code == 404


@pytest.mark.parametrize("bad", ["prometheus", "prometheus:", ":pw", "a:b,c"])
def test_a_bad_metrics_auth_stops_the_start_naming_the_setting(settings_env, monkeypatch, bad):
    with pytest.raises(SettingsError, match="^DUMPER_METRICS_AUTH: "):
        load(overrides={"DUMPER_METRICS_AUTH": bad})
    monkeypatch.setenv("DUMPER_METRICS_AUTH", bad)
    result = CliRunner().invoke(inspect, ["--bind", "127.0.0.1:1"])
    assert result.exit_code != 0
    assert "DUMPER_METRICS_AUTH" in result.output
    assert bad.partition(":")[2] not in result.output or not bad.partition(":")[2]  # never echoes a password


def test_metrics_settings_defaults_and_empty_values(data_dir):
    base = {"DUMPER_DATA_DIR": data_dir}
    assert load(base).metrics_dir == os.path.join(data_dir, "metrics")
    assert load({**base, "DUMPER_METRICS_DIR": "  "}).metrics_dir == os.path.join(data_dir, "metrics")
    assert load({**base, "DUMPER_METRICS_DIR": "/srv/m"}).metrics_dir == "/srv/m"
    assert load({**base, "DUMPER_METRICS_AUTH": ""}).metrics_credentials == ()
    assert load({**base, "DUMPER_METRICS_AUTH": "p:1,q:2"}).metrics_credentials == (("p", "1"), ("q", "2"))


def test_acks_are_counted_by_code_and_timed(env):
    client = create_receiver(env).test_client()

    def count(code):
        return counters.ACKS.labels(code=str(code))._value.get()

    before = {code: count(code) for code in (200, 401)}
    timed = counters.ACK_SECONDS._sum.get(), sum(bucket.get() for bucket in counters.ACK_SECONDS._buckets)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(3):
        assert client.post("/webhook/", data="data=[]", headers={**form, "Authorization": basic()}).status_code == 200
    assert client.post("/webhook/", data="data=[]", headers=form).status_code == 401
    assert client.get("/webhook/").status_code == 200
    assert count(200) - before[200] == 4
    assert count(401) - before[401] == 1
    assert sum(bucket.get() for bucket in counters.ACK_SECONDS._buckets) - timed[1] == 5
    assert counters.ACK_SECONDS._sum.get() > timed[0]


def test_a_failing_counter_never_changes_the_answer(env, monkeypatch):
    def broken(code):
        raise OSError("metrics directory gone")

    monkeypatch.setattr(counters, "_child", broken)
    client = create_receiver(env).test_client()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic()}
    answer = client.post("/webhook/", data="data=[]", headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "accepted"


def test_events_and_rejects_are_counted_once_by_channel_activity_and_reason(inspector, settings_env, data_dir):
    settings = load()
    first = scrape(inspector)
    assert value(first, names.EVENTS, channel="sms", activity="click") is None
    valid = capture_with(4)  # the samples' channel events: sms, email, apn, bpn
    rejected = make_capture(datetime.now(UTC), INVALID_JSON)
    send(settings, valid)
    send(settings, rejected)
    assert value(scrape(inspector), names.QUEUE_JOBS, queue=settings.queue) == 2
    drain(settings)
    found = scrape(inspector, SCRAPER)
    events = {key: item for key, item in found.items() if key[0] == names.EVENTS}
    assert sum(events.values()) == 4
    assert value(found, names.REJECTS, reason="invalid_json") == 1
    assert value(found, names.QUEUE_JOBS, queue=settings.queue) == 0
    assert value(found, names.REDIS_UP) == 1
    assert value(found, names.RETRYING) == 0 and value(found, names.DEAD_LETTERS) == 0
    # A capture processed again writes nothing new, so it counts nothing new.
    connection = queueing.get_queue(settings).connection
    forget(connection, valid["id"])
    forget(connection, rejected["id"])
    send(settings, valid)
    send(settings, rejected)
    drain(settings)
    again = scrape(inspector)
    assert {key: item for key, item in again.items() if key[0] == names.EVENTS} == events
    assert value(again, names.REJECTS, reason="invalid_json") == 1


def test_the_backlog_and_the_workers_are_gauged(inspector, settings_env, data_dir):
    settings = load()
    old = datetime.now(UTC).replace(microsecond=0)
    write_captures(data_dir, [make_capture(old, INVALID_JSON), make_capture(datetime.now(UTC), INVALID_JSON)])
    worker = build_worker(settings, name="metrics-test-worker")
    worker.register_birth()
    try:
        found = scrape(inspector)
    finally:
        worker.register_death()
    assert value(found, names.BACKLOG) == 2
    assert value(found, names.BACKLOG_READABLE) == 1
    assert 0 <= value(found, names.BACKLOG_AGE) < 60
    assert value(found, names.FORWARDER_UP) == 0  # no forwarder runs here
    assert value(found, names.WORKERS) == 1
    assert 0 <= value(found, names.WORKER_AGE, worker="metrics-test-worker") < 60
    assert value(found, names.PENDING_AFTER) == settings.alert_pending_after
    assert value(found, names.REDIS_AFTER) == settings.alert_redis_after
    assert value(found, names.DISK_FREE) > 0


def test_a_scrape_without_redis_reports_the_rest(settings_env, tmp_path):
    env = {**settings_env, "REDIS_URL": f"unix://{tmp_path}/nobody.sock"}
    found = scrape(create_inspector(env).test_client())
    assert value(found, names.REDIS_UP) == 0
    assert value(found, names.BACKLOG) == 0
    assert value(found, names.QUEUE_JOBS, queue="smartech") is None


def test_sink_deliveries_are_counted_by_sink_and_outcome(inspector, settings_env, monkeypatch, tmp_path):
    endpoint = Endpoint()
    try:
        sinks = {
            "ok": {"type": "http", "url": endpoint.to("ok")},
            "flaky": {"type": "http", "url": endpoint.to("flaky"), "retries": "1m"},
            "broken": {"type": "http", "url": endpoint.to("broken")},
        }
        monkeypatch.setenv("DUMPER_ROUTES", write_routes(tmp_path, sinks, [{"name": "all", "to": list(sinks)}]))
        endpoint.will_answer("flaky", 503)
        endpoint.will_answer("broken", 400)
        settings = load()
        send(settings, capture_with(2))
        drain(settings)
    finally:
        endpoint.close()
    found = scrape(inspector)
    assert value(found, names.SINK_DELIVERIES, sink="ok", outcome="delivered") == 1
    assert value(found, names.SINK_DELIVERIES, sink="flaky", outcome="retry") == 1
    assert value(found, names.SINK_DELIVERIES, sink="broken", outcome="failed") == 1
    assert value(found, names.SINK_EVENTS, sink="ok") == 2
    assert value(found, names.RETRYING) == 1
    assert value(found, names.DEAD_LETTERS) == 1


def test_a_tally_without_redis_is_logged_and_never_raised(settings_env, tmp_path, caplog):
    nowhere = queueing.connect(load(overrides={"REDIS_URL": f"unix://{tmp_path}/nobody.sock"}))
    tally.count_reject(nowhere, "smartech", "empty body")
    assert "rejects not counted" in caplog.text


@pytest.mark.parametrize(
    "reason, kind",
    [
        ("invalid JSON: Expecting value: line 1 column 7 (char 6)", "invalid_json"),
        ("empty body", "empty_body"),
        ("body is not valid UTF-8 (byte 5)", "not_utf8"),
        ("form body has no 'data' field (fields: 'payload')", "no_data_field"),
        ("form field 'data' is empty", "empty_data_field"),
        ("unexpected content type 'text/plain'", "content_type"),
        ("payload is a string, expected an object of panels or an array of events", "not_events"),
        ("panel 'p' holds an object, expected an array of events", "not_events"),
        ("20001 events, over DUMPER_MAX_EVENTS=10000", "too_many_events"),
        ("event 0: a string holds a lone surrogate \\udc80, which UTF-8 cannot encode", "not_writable"),
        ("something nobody wrote yet", "other"),
    ],
)
def test_reject_reasons_become_a_few_kinds(reason, kind):
    assert labels.reason(reason) == kind


def test_a_channel_a_sender_made_up_is_other():
    assert labels.channel("sms") == "sms"
    assert labels.channel("x" * 10_000) == "other"
    assert labels.channel(None) == "none"
    assert labels.activity("click") == "click"
    assert labels.activity("<script>") == "other"


def test_clear_removes_only_the_counter_files(tmp_path):
    for name in ("counter_1.db", "histogram_2.db", "keep.txt"):
        (tmp_path / name).write_text("")
    multiproc.clear(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]


RULES = os.path.join(ROOT, "deploy", "prometheus-alerts.yml")
# (alert, {series: values one minute apart}, minutes when it must not fire, minutes when it must)
RULE_CASES = [
    ("SmartechDumperDeadLetters", {"smartech_dumper_dead_letters": "0 3"}, [0], [1]),
    ("SmartechDumperJobsRetrying", {"smartech_dumper_jobs_retrying": "0 2"}, [0], [1]),
    ("SmartechDumperBacklogUnreadable", {"smartech_dumper_backlog_readable": "1 0"}, [0], [1]),
    (
        "SmartechDumperCapturesWaiting",
        {
            "smartech_dumper_backlog_captures": "3 3 0",
            "smartech_dumper_backlog_oldest_age_seconds": "300 301 400",
            "smartech_dumper_alert_pending_after_seconds": "300 300 300",
        },
        [0, 2],
        [1],
    ),
    ("SmartechDumperRedisDown", {"smartech_dumper_redis_up": "1 0 0"}, [0, 1], [2]),
    ("SmartechDumperForwarderDown", {"smartech_dumper_forwarder_up": "1 0 0"}, [0, 1], [2]),
    ("SmartechDumperNoWorkers", {"smartech_dumper_workers": "1 0 0 0"}, [0, 1, 2], [3]),
    (
        "SmartechDumperDiskLow",
        {"smartech_dumper_disk_free_bytes": "200 50", "smartech_dumper_min_free_bytes": "100 100"},
        [0],
        [1],
    ),
    ("SmartechDumperPostsRefused", {"smartech_dumper_quarantine_recent_posts": "0 2 0"}, [0, 2], [1]),
    (
        "SmartechDumperAuditFound",
        {"smartech_dumper_audit_missing": "0 2 0", "smartech_dumper_audit_stuck": "0 0 1"},
        [0],
        [1, 2],
    ),
    ("SmartechDumperAuditStale", {"smartech_dumper_audit_age_seconds": "300 1800 1801"}, [0, 1], [2]),
]
WARNINGS = {"SmartechDumperJobsRetrying", "SmartechDumperAuditStale"}  # the rest are critical


def without_annotations(text):
    """Return the rules file without its annotations blocks: promtool's unit tests would compare their texts."""
    kept, skipping_below = [], None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        if skipping_below is not None and (not line.strip() or indent > skipping_below):
            continue
        skipping_below = indent if line.strip() == "annotations:" else None
        if skipping_below is None:
            kept.append(line)
    return "\n".join(kept) + "\n"


def test_the_alerting_rules_fire_when_the_email_alerts_do(tmp_path):
    with open(RULES, encoding="utf-8") as handle:
        (tmp_path / "rules.yml").write_text(without_annotations(handle.read()))
    lines = ["rule_files: [rules.yml]", "evaluation_interval: 1m", "tests:"]
    for alert, series, quiet, firing in RULE_CASES:
        lines += ["  - interval: 1m", "    input_series:"]
        for name, values in series.items():
            lines += [f'      - series: \'{name}{{instance="r1", job="sd"}}\'', f"        values: '{values}'"]
        lines.append("    alert_rule_test:")
        for minute in quiet:
            lines += [f"      - eval_time: {minute}m", f"        alertname: {alert}", "        exp_alerts: []"]
        for minute in firing:
            lines += [f"      - eval_time: {minute}m", f"        alertname: {alert}", "        exp_alerts:"]
            severity = "warning" if alert in WARNINGS else "critical"
            lines.append(f"          - exp_labels: {{severity: {severity}, instance: r1, job: sd}}")
    (tmp_path / "tests.yml").write_text("\n".join(lines) + "\n")
    done = subprocess.run(["promtool", "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    # The e-mail alert decides the same on the same figures (receiver/ops/alerts.py).
    settings = load(overrides={"DUMPER_ALERT_PENDING_AFTER": "300s"})
    assert "pending" not in conditions({"pending_count": 3, "oldest_pending_age": 300}, settings)
    assert "pending" in conditions({"pending_count": 3, "oldest_pending_age": 301}, settings)
    assert "pending" not in conditions({"pending_count": 0, "oldest_pending_age": 400}, settings)
    assert settings.alert_redis_after == 60  # the default the RedisDown rule's `for: 1m` follows


def test_a_scheduled_check_is_gauged_apart_from_the_retries(inspector, settings_env, monkeypatch, tmp_path):
    sinks = {"crm": {"type": "http", "url": "http://127.0.0.1:9/never-called"}}
    check = {"name": "no-follow-up", "to": ["crm"], "after": "1h", "unless": {"activity": "never-sent"}}
    monkeypatch.setenv("DUMPER_ROUTES", write_routes(tmp_path, sinks, [check]))
    settings = load()
    send(settings, capture_with(1))
    drain(settings)
    found = scrape(inspector)
    assert value(found, names.CHECKS_SCHEDULED) == 1
    assert value(found, names.RETRYING) == 0
    assert value(found, names.QUEUE_JOBS, queue=f"{settings.queue}-checks") == 0
