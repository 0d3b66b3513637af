"""Faults tried from outside, with real processes: each 200 must end as its events, exactly once.

Each test breaks one promise the way a deployment would: Redis killed under
load, a private Redis killed under `up`, a torn captures line, a captures file
cut short, slow clients, a forwarder stuck in an error loop.
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
import requests
from click.testing import CliRunner

from receiver.core import jsonl, layout
from receiver.forwarder import torn
from receiver.procs.stack import free_port
from scripts.cli import main
from tests.support.helpers import PASSWORD, USER, read_kind, wait_until
from tests.support.procs import BIN, StoppableRedis, Web, post_event, start_worker
from tests.support.procs import stop as stop_proc
from tests.support.slowclients import SlowClients
from tests.support.smtp_server import smtp_server
from tests.system.test_up import read_until

pytestmark = pytest.mark.slow


def event_counts(data_dir):
    return Counter(event["event_id"] for event in read_kind(data_dir, "events"))


def all_once(data_dir, guids):
    """Say whether every guid is in the events exactly once (and wait-friendly: False until then)."""
    counts = event_counts(data_dir)
    return all(counts[guid] == 1 for guid in guids)


def assert_exactly_once(data_dir, guids):
    counts = event_counts(data_dir)
    assert {g: counts[g] for g in guids} == {g: 1 for g in guids}


@pytest.fixture
def redis_box():
    box = StoppableRedis(tempfile.mkdtemp(prefix="sdh-", dir="/tmp"))
    yield box
    box.stop(signal.SIGKILL)


@pytest.fixture
def web_env(env, redis_box):
    return {
        **os.environ,
        **env,
        "REDIS_URL": redis_box.url,
        "DUMPER_FORWARDER": "true",
        "DUMPER_REDIS_TIMEOUT": "0.3",
        "DUMPER_RETRY_INTERVALS": "1s,1s,1s,1s,1s",
    }


@pytest.fixture
def workers(web_env):
    started = []

    def start(count=1, **options):
        for _ in range(count):
            started.append(start_worker(web_env, **options))
        return started

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        stop_proc(proc)


def test_workers_outlive_redis_killed_under_load(redis_box, web_env, data_dir, workers):
    web = Web(web_env)
    running = workers(2)
    guids = [f"load-{i}" for i in range(800)]
    acked = Counter()

    def send(guid):
        if guid == "load-200":
            redis_box.stop(signal.SIGKILL)  # AOF on: it comes back with what it acknowledged
            threading.Timer(4.0, redis_box.start).start()
        acked[post_event(web.url, guid).status_code] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, guids))
    assert acked == {200: 800}
    wait_until(lambda: all_once(data_dir, guids), timeout=180)
    assert all(proc.poll() is None for proc in running), "a worker died with Redis"
    web.stop()
    assert_exactly_once(data_dir, guids)


def test_a_worker_waiting_out_an_outage_still_stops_on_sigterm(redis_box, web_env, workers):
    [worker] = workers(1)
    wait_until(lambda: redis_lib_ping(redis_box.url) and b"Listening" in open(worker.log_path, "rb").read(), 30)
    redis_box.stop(signal.SIGKILL)
    time.sleep(3)  # the worker is in the middle of the outage now
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0


def redis_lib_ping(url):
    try:
        return redis_lib.Redis.from_url(url).ping()
    except redis_lib.RedisError:
        return False


def test_up_keeps_the_web_answering_when_its_private_redis_is_killed(tmp_path):
    data_dir = str(tmp_path / "var")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUMPER_") and k != "REDIS_URL"}
    env.update(
        DUMPER_DATA_DIR=data_dir, DUMPER_FSYNC="false", PYTHONUNBUFFERED="1", DUMPER_BASIC_AUTH=f"{USER}:{PASSWORD}"
    )
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "up", "--port", str(port), "--private-redis"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        redis_port = read_until(proc, r"private redis-server at redis://127\.0\.0\.1:(\d+)/0")[0].group(1)
        # up says "Ctrl-C stops everything" once every child is healthy: before that a dead child aborts the start
        read_until(proc, r"Ctrl-C stops everything")
        assert _answers(url)
        assert post_event(url, "before-kill").status_code == 200
        ours = f"redis-server 127.0.0.1:{redis_port}"  # never the machine's own Redis
        redis_pid = _pid_of(ours)
        os.kill(redis_pid, signal.SIGKILL)
        during = [post_event(url, f"during-{i}").status_code for i in range(20)]
        assert during == [200] * 20, "the web must keep answering while Redis is away"
        wait_until(lambda: _pid_of(ours) not in (None, redis_pid), timeout=30)
        guids = ["before-kill"] + [f"during-{i}" for i in range(20)]
        wait_until(lambda: all_once(data_dir, guids), timeout=120)
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=90)[0]
        print(output)  # pytest shows it when the test fails
    assert "redis exited with status -9; restarting it" in output
    assert proc.returncode == 0


def _answers(url):
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _pid_of(text):
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    found = [int(line.split()[0]) for line in out.splitlines() if text in line and "ps -eo" not in line]
    return found[0] if found else None


def test_a_torn_captures_line_swallows_nothing(redis_box, web_env, data_dir, workers):
    web = Web(web_env)
    workers(1)
    assert post_event(web.url, "first").status_code == 200
    path = layout.day_path(data_dir, "captures", layout.day_name())
    with open(path, "ab") as handle:
        handle.write(b'{"id":"01TORN","body":"a writer killed mid-app')  # no newline
    answer = post_event(web.url, "after-torn")
    assert answer.status_code == 200
    capture_id = answer.json()["id"]
    wait_until(lambda: all_once(data_dir, ["first", "after-torn"]), timeout=60)
    shown = CliRunner().invoke(main, ["show", capture_id, "--json", "--data-dir", data_dir])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["capture"]["id"] == capture_id
    assert torn.count(data_dir) == 1
    wait_until(lambda: requests.get(web.url + "/readyz", timeout=5).json()["backlog"]["torn_lines"] == 1)
    web.stop()


def test_a_captures_file_cut_short_in_a_power_cut_loses_no_later_capture(redis_box, web_env, data_dir, workers):
    web = Web(web_env)
    workers(1)
    first = [f"before-cut-{i}" for i in range(5)]
    assert all(post_event(web.url, guid).status_code == 200 for guid in first)
    wait_until(lambda: all_once(data_dir, first), timeout=60)
    web.stop()
    path = layout.day_path(data_dir, "captures", layout.day_name())
    with open(path, "rb") as handle:
        lines = handle.readlines()
    os.truncate(path, sum(len(line) for line in lines[:3]))  # the last two captures' bytes are gone
    web.start()
    after = [f"after-cut-{i}" for i in range(5)]
    assert all(post_event(web.url, guid).status_code == 200 for guid in after)
    wait_until(lambda: all_once(data_dir, after), timeout=60)
    web.stop()
    assert_exactly_once(data_dir, first + after)


def test_slow_clients_cannot_stop_acks(redis_box, web_env, data_dir):
    env = {k: v for k, v in web_env.items() if k not in ("WEB_CONCURRENCY",)}
    port = free_port()
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), timeout=30)
        slow = SlowClients(port, 100)
        time.sleep(2.0)  # every slow connection is open and has started to trickle
        slowest = 0.0
        for i in range(20):
            started = time.monotonic()
            assert post_event(url, f"fast-{i}", timeout=5).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
        slow.close()
        assert slowest < 2.0, f"a normal POST waited {slowest:.2f}s behind slow clients"
    finally:
        stop_proc(proc)


def test_a_forwarder_failing_every_pass_still_raises_an_alert_and_readyz_says_so(redis_box, web_env, data_dir):
    with smtp_server() as (smtp_port, inbox):
        env = {
            **web_env,
            "DUMPER_ALERT_EMAILS": "ops@example.com",
            "DUMPER_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DUMPER_ALERT_PENDING_AFTER": "2s",
            "DUMPER_ALERT_EVERY": "15m",
        }
        os.makedirs(torn.torn_path(data_dir), mode=0o700)  # a torn line cannot be kept: every pass fails
        path = layout.day_path(data_dir, "captures", layout.day_name())
        jsonl.ensure_dir(os.path.dirname(path))
        with open(path, "ab") as handle:
            handle.write(b'{"id":"01TORN","body":"cut sho')
        web = Web(env)
        assert post_event(web.url, "stuck-1").status_code == 200
        wait_until(lambda: inbox.messages, timeout=60)
        [message] = inbox.messages
        assert "captures waiting" in message["Subject"]

        # Its last good pass was before the capture arrived: the heartbeat goes stale, readiness follows.
        # Each web process caches its answer for a second: judge one answer, not two from different processes.
        def stale():
            state = requests.get(web.url + "/readyz", timeout=5).json()
            return not state["forwarder"]["alive"] and state["ready"] is False and state

        state = wait_until(stale, timeout=40)
        assert state["backlog"]["awaiting_enqueue"] == 2 and state["backlog"]["oldest_age_seconds"] >= 2
        web.stop()


def test_email_api_events_are_never_merged_and_the_same_batch_again_is_marked_as_repeats(
    redis_box, web_env, data_dir, workers
):
    web = Web(web_env)
    workers(1)
    clicks = [
        {"TRANSID": 9007199254740993123, "EMAIL": "a@b.example", "EVENT": "click", "TIMESTAMP": 1700000000, "URL": url}
        for url in ("https://x.example/1", "https://x.example/2")
    ]
    for _ in range(2):  # the same batch twice: nothing in it tells a re-delivery from two more clicks
        answer = requests.post(
            web.url + "/webhook",
            data=json.dumps(clicks),
            auth=(USER, PASSWORD),
            timeout=10,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200
    wait_until(lambda: len(read_kind(data_dir, "events")) == 4 and _backlog_done(web.url), timeout=60)
    events = read_kind(data_dir, "events")
    assert [e["raw"]["URL"] for e in events] == ["https://x.example/1", "https://x.example/2"] * 2
    assert len({e["event_id"] for e in events}) == 4
    assert [e["repeat_of"] for e in events] == [None, None, events[0]["event_id"], events[1]["event_id"]]
    web.stop()


def _backlog_done(url):
    state = requests.get(url + "/readyz", timeout=5).json()
    return state["backlog"]["awaiting_enqueue"] == 0 and state["redis"]["queue_depth"] == 0
