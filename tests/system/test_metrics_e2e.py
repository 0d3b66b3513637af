"""GET /metrics end to end: real `serve` (two gunicorn workers and the forwarder), an RQ worker, `inspect`,
real traffic, then scrapes over HTTP; and the dashboard and the alerting rules name only what a scrape shows."""

import json
import os
import re
import signal
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from receiver.core import jsonl
from receiver.core.settings import load
from receiver.metrics import names
from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, ROOT, USER, wait_until
from tests.support.procs import BIN, FORM, Web, logged_popen, post_event, start_worker, stop, wait_http
from tests.support.routing_helpers import Endpoint, write_routes

pytestmark = pytest.mark.slow
DASHBOARD = os.path.join(ROOT, "deploy", "grafana-dashboard.json")
RULES = os.path.join(ROOT, "deploy", "prometheus-alerts.yml")
SCRAPER = ("prometheus", "scrape-pw")
EVENTS_SENT = 5
METRIC_NAME = re.compile(r"\bsmartech_dumper_[a-z_]+")


def scrape(url):
    """Return ``{(name, frozenset(labels)): value}`` of one scrape with Prometheus's credentials."""
    answer = requests.get(url + "/metrics", auth=SCRAPER, timeout=10)
    assert answer.status_code == 200, answer.text
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **label_values):
    """Return one sample's value, or None."""
    return found.get((name, frozenset(label_values.items())))


def total(found, name):
    """Return the sum of every sample of ``name``."""
    return sum(item for (sample, _), item in found.items() if sample == name)


@pytest.fixture
def stack(env, data_dir, tmp_path):
    """Start a sink endpoint, `serve`, a forking worker and `inspect` on the test Redis; yield them and the settings."""
    endpoint = Endpoint()
    routes = write_routes(
        tmp_path, {"crm": {"type": "http", "url": endpoint.to("crm")}}, [{"name": "all", "to": ["crm"]}]
    )
    proc_env = {
        **os.environ,
        **env,
        "DUMPER_FORWARDER": "true",
        "DUMPER_INSPECT_AUTH": "viewer:look",
        "DUMPER_METRICS_AUTH": ":".join(SCRAPER),
        "DUMPER_ROUTES": routes,
        "DUMPER_SILENCE_AFTER": "2h",  # so the silence threshold the rules compare with is exported too
        "DUMPER_QUARANTINE": "true",  # so the quarantine's gauges are exported (the audit's are, by default)
    }
    proc_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # A file a previous run left: serve must remove it, or the scrape could not read the counters.
    stale = os.path.join(jsonl.ensure_dir(load(proc_env).metrics_dir), "counter_999999.db")
    with open(stale, "wb") as handle:
        handle.write(b"not an mmap file")
    web = Web(proc_env, workers=2)
    # The forking class: each job in a new process, which is why jobs count in Redis, not in files.
    worker = start_worker(proc_env, worker_class="fork")
    port = free_port()
    inspector = logged_popen([os.path.join(BIN, "smartech-dumper"), "inspect", "--bind", f"127.0.0.1:{port}"], proc_env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", inspector)
        yield web, f"http://127.0.0.1:{port}", load(proc_env), stale
    finally:
        stop(inspector)
        stop(worker)
        web.stop()
        endpoint.close()


def settled(url, settings, sent):
    """Return a scrape once the workers wrote every event and reject and every delivery job to crm ended."""
    found = scrape(url)
    done = (
        total(found, names.EVENTS) == sent
        and value(found, names.REJECTS, reason="invalid_json") == 1
        and value(found, names.SINK_EVENTS, sink="crm") == sent
        # counted after the sink call returns, so after the events above: wait for it too
        and value(found, names.SINK_DELIVERIES, sink="crm", outcome="delivered") == sent
        and value(found, names.BACKLOG) == 0
        and all(value(found, names.QUEUE_JOBS, queue=name) == 0 for name in queue_names(settings))
    )
    return found if done else None


def queue_names(settings):
    """Return the queues the workers listen to."""
    from receiver.core import keys

    return keys.queue_names(settings.queue)


def test_the_counters_move_after_real_traffic_through_real_processes(stack):
    web, inspector_url, settings, stale = stack
    for index in range(EVENTS_SENT):
        assert post_event(web.url, f"metrics-e2e-{index}").status_code == 200
    rejected = requests.post(
        web.url + "/webhook", data="data=%7B%22p%22%3A%5B", headers=FORM, auth=(USER, PASSWORD), timeout=10
    )
    assert rejected.status_code == 200
    assert requests.post(web.url + "/webhook", data="data=[]", headers=FORM, timeout=10).status_code == 401

    found = wait_until(lambda: settled(inspector_url, settings, EVENTS_SENT), timeout=60)
    assert not os.path.exists(stale)
    assert value(found, names.ACKS + "_total", code="200") == EVENTS_SENT + 1
    assert value(found, names.ACKS + "_total", code="401") == 1
    assert value(found, names.ACK_SECONDS + "_count") == EVENTS_SENT + 2
    assert 0 < value(found, names.ACK_SECONDS + "_sum") < 10 * (EVENTS_SENT + 2)
    assert value(found, names.ACK_SECONDS + "_bucket", le="+Inf") == EVENTS_SENT + 2
    assert value(found, names.EVENTS, channel="sms", activity="click") == EVENTS_SENT
    assert value(found, names.SINK_DELIVERIES, sink="crm", outcome="delivered") == EVENTS_SENT
    assert value(found, names.REDIS_UP) == 1
    assert value(found, names.RETRYING) == 0 and value(found, names.DEAD_LETTERS) == 0
    assert value(found, names.BACKLOG_READABLE) == 1 and value(found, names.BACKLOG_AGE) == 0
    assert value(found, names.FORWARDER_UP) == 1 and value(found, names.FORWARDER_AGE) < 15
    assert value(found, names.WORKERS) >= 1
    ages = [item for (sample, _), item in found.items() if sample == names.WORKER_AGE]
    assert ages and max(ages) < 60

    # A web worker that dies keeps its acks in the sum; its replacement counts on.
    old = set(web.worker_pids())
    os.kill(sorted(old)[0], signal.SIGKILL)
    wait_until(lambda: len(set(web.worker_pids()) - old) == 1 and len(web.worker_pids()) == 2)
    assert post_event(web.url, "metrics-e2e-after-kill").status_code == 200
    after = scrape(inspector_url)
    assert value(after, names.ACKS + "_total", code="200") == EVENTS_SENT + 2

    # Only the web workers write counter files (two types each, three workers so far): jobs count in Redis.
    files = os.listdir(settings.metrics_dir)
    assert files and len(files) <= 2 * 3, files

    # The webhook's own port has no /metrics.
    assert requests.get(web.url + "/metrics", auth=SCRAPER, timeout=10).status_code == 404
    assert requests.get(web.url + "/metrics", auth=(USER, PASSWORD), timeout=10).status_code == 404

    # The dashboard and the rules name only metrics a scrape shows, and the dashboard shows every metric.
    shown = {sample for sample, _ in after}
    with open(DASHBOARD, encoding="utf-8") as handle:
        dashboard = json.dumps(json.load(handle))
    with open(RULES, encoding="utf-8") as handle:
        rules = handle.read()
    named = set(METRIC_NAME.findall(dashboard)) | set(METRIC_NAME.findall(rules))
    assert named and named <= shown, named - shown
    assert set(names.ALL) <= set(METRIC_NAME.findall(dashboard)), set(names.ALL) - set(METRIC_NAME.findall(dashboard))
    assert set(names.ALL) <= shown, set(names.ALL) - shown


def test_the_alerting_rules_pass_promtool():
    done = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 12 rules found" in done.stdout
