"""Fault injection with real processes: Redis down or hung, web restarts, killed gunicorn workers.

Each test checks that every payload answered 200 ends up exactly once in the events file.
"""

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
import requests
from click.testing import CliRunner

from receiver.core.settings import load
from receiver.forwarder import cursor
from receiver.forwarder.loop import Forwarder
from scripts.cli import main
from tests.support.helpers import PASSWORD, USER, backlog, read_kind, wait_until
from tests.support.procs import FORM, StoppableRedis, Web, event_body, post_event, run_burst_worker, start_worker
from tests.support.procs import stop as stop_proc
from tests.support.smtp_server import smtp_server

pytestmark = pytest.mark.slow


def assert_exactly_once(data_dir, guids):
    counts = Counter(event["event_id"] for event in read_kind(data_dir, "events"))
    assert {g: counts[g] for g in guids} == {g: 1 for g in guids}


@pytest.fixture
def redis_box():
    workdir = tempfile.mkdtemp(prefix="sdf-", dir="/tmp")
    box = StoppableRedis(workdir)
    yield box
    box.stop(signal.SIGKILL)


@pytest.fixture
def web_env(env, redis_box):
    return {**os.environ, **env, "REDIS_URL": redis_box.url, "DUMPER_FORWARDER": "true", "DUMPER_REDIS_TIMEOUT": "0.3"}


def test_redis_down_acks_everything_and_catches_up_after_a_web_restart(redis_box, web_env, data_dir):
    web = Web(web_env)
    guids = [f"before-{i}" for i in range(20)]
    assert all(post_event(web.url, g).status_code == 200 for g in guids)
    wait_until(lambda: backlog(data_dir) == 0)
    redis_box.stop()
    during = [f"during-{i}" for i in range(100)]
    assert [post_event(web.url, g).status_code for g in during] == [200] * 100
    web.stop()  # the web process restarts in the middle of the outage
    web.start()
    after_restart = [f"restarted-{i}" for i in range(20)]
    assert all(post_event(web.url, g).status_code == 200 for g in after_restart)
    assert backlog(data_dir) == 120
    redis_box.start()
    wait_until(lambda: backlog(data_dir) == 0, timeout=30)  # no operator action
    web.stop()
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, guids + during + after_restart)


class BlackHole:
    """A TCP front for Redis that accepts connections and, while hung, never answers them."""

    def __init__(self, unix_path):
        self.unix_path = unix_path
        self.hung = True
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        if self.hung:
            client.recv(65536)  # read the command, answer nothing; redis-py times out and drops us
            return
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.unix_path)
        threading.Thread(target=self.pipe, args=(upstream, client), daemon=True).start()
        self.pipe(client, upstream)

    @staticmethod
    def pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_hung_redis_never_slows_an_ack(redis_box, web_env, data_dir):
    hole = BlackHole(redis_box.sock)
    # A long Redis timeout: a request that waited for Redis would take seconds.
    web = Web({**web_env, "REDIS_URL": f"redis://127.0.0.1:{hole.port}/0", "DUMPER_REDIS_TIMEOUT": "5"})
    guids = [f"hung-{i}" for i in range(30)]
    slowest = 0.0
    for guid in guids:
        started = time.monotonic()
        assert post_event(web.url, guid).status_code == 200
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 2.5, f"an ack waited {slowest:.2f}s: it must not wait for a hung Redis"
    assert backlog(data_dir) == 30
    hole.hung = False
    wait_until(lambda: backlog(data_dir) == 0, timeout=60)
    web.stop()
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, guids)


def test_killed_gunicorn_worker_loses_no_acknowledged_payload(redis_box, web_env, data_dir):
    web = Web(web_env, workers=2)
    guids = [f"load-{i}" for i in range(300)]
    victim = web.worker_pids()[0]

    def send(guid):
        if guid == "load-100":
            os.kill(victim, signal.SIGKILL)
        try:
            return guid, post_event(web.url, guid).status_code
        except requests.RequestException:
            return guid, None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, guids))
    acked = [guid for guid, status in results if status == 200]
    assert len(acked) >= 250, Counter(status for _, status in results)
    assert len(read_kind(data_dir, "captures")) >= len(acked)
    wait_until(lambda: backlog(data_dir) == 0, timeout=30)
    web.stop()
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, acked)


def test_disk_failure_is_acked_when_redis_holds_the_payload_and_503_when_not(redis_box, web_env, data_dir):
    os.makedirs(data_dir, mode=0o700)
    open(os.path.join(data_dir, "captures"), "w").close()  # captures cannot be written
    web = Web(web_env)
    assert requests.get(web.url + "/readyz", timeout=10).status_code == 503
    guids = [f"diskless-{i}" for i in range(10)]
    assert [post_event(web.url, g).status_code for g in guids] == [200] * 10
    redis_box.stop()
    lost = post_event(web.url, "nowhere")
    assert lost.status_code == 503
    redis_box.start()
    web.stop()
    os.remove(os.path.join(data_dir, "captures"))
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, guids)


def test_redis_outage_e_mails_an_alert_once(redis_box, web_env, data_dir):
    with smtp_server() as (port, inbox):
        alert_env = {
            **web_env,
            "DUMPER_ALERT_EMAILS": "ops@example.com",
            "DUMPER_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "DUMPER_ALERT_REDIS_AFTER": "1s",
            "DUMPER_ALERT_PENDING_AFTER": "1s",
            "DUMPER_ALERT_EVERY": "15m",
        }
        web = Web(alert_env)
        redis_box.stop()
        assert post_event(web.url, "alerted-1").status_code == 200
        wait_until(lambda: inbox.messages, timeout=40)
        time.sleep(3)
        [message] = inbox.messages  # one per DUMPER_ALERT_EVERY, however long the outage
        assert "Redis" in message["Subject"] and "waiting" in message["Subject"]
        assert "CAPTURES WAITING: 1 capture" in message.get_content() and "REDIS" in message.get_content()
        redis_box.start()
        wait_until(lambda: backlog(data_dir) == 0, timeout=30)
        web.stop()
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, ["alerted-1"])


def test_sigterm_to_gunicorn_finishes_the_request_in_flight(redis_box, web_env, data_dir):
    web = Web(web_env, workers=1)
    first_part = threading.Event()

    def slow_body():
        yield event_body("in-flight")[:20].encode()
        first_part.set()
        time.sleep(1.5)  # gunicorn gets SIGTERM while we are still sending
        yield event_body("in-flight")[20:].encode()

    result = {}

    def send():
        result["answer"] = requests.post(
            web.url + "/webhook", data=slow_body(), headers=FORM, auth=(USER, PASSWORD), timeout=30
        )

    sender = threading.Thread(target=send)
    sender.start()
    assert first_part.wait(10)
    time.sleep(0.3)
    web.proc.send_signal(signal.SIGTERM)
    sender.join(30)
    assert result["answer"].status_code == 200
    web.proc.wait(timeout=40)
    [capture] = read_kind(data_dir, "captures")
    assert capture["body"] == event_body("in-flight")
    Forwarder(load(web_env)).drain()  # gunicorn may have stopped before its forwarder got to it
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, ["in-flight"])


def test_a_failing_job_is_retried_then_rests_in_the_dead_letters_until_requeued(redis_box, web_env, data_dir):
    env = {**web_env, "DUMPER_RETRY_INTERVALS": "1s,1s", "DUMPER_FORWARDER": "false"}
    web = Web(env)
    assert post_event(web.url, "retried-1").status_code == 200
    web.stop()
    Forwarder(load(env)).drain()
    events_dir = os.path.join(data_dir, "events")
    open(events_dir, "w").close()  # the events directory cannot be made: every attempt fails
    worker = start_worker(env)
    try:
        wait_until(lambda: redis_box_failed(redis_box) == 1, timeout=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        log = stop_proc(worker)
    assert log.count("NotADirectoryError") + log.count("FileExistsError") >= 3, log  # first try + 2 retries
    os.remove(events_dir)
    requeued = CliRunner().invoke(main, ["failed", "requeue", "--all"], env=env)
    assert requeued.exit_code == 0, requeued.output
    run_burst_worker(env)
    assert_exactly_once(data_dir, ["retried-1"])
    assert cursor.load(data_dir).offset > 0


def redis_box_failed(redis_box):
    client = redis_lib.Redis.from_url(redis_box.url)
    try:
        return client.zcard("rq:failed:smartech")
    finally:
        client.close()


def test_redis_restarted_empty_is_recovered_by_replaying_captures_since_the_loss(redis_box, web_env, data_dir):
    web = Web(web_env)
    processed = [f"processed-{i}" for i in range(5)]
    assert all(post_event(web.url, g).status_code == 200 for g in processed)
    wait_until(lambda: backlog(data_dir) == 0)
    run_burst_worker(web_env)
    time.sleep(1.1)
    lost_since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    queued = [f"queued-{i}" for i in range(5)]
    assert all(post_event(web.url, g).status_code == 200 for g in queued)
    wait_until(lambda: backlog(data_dir) == 0)
    redis_box.stop(signal.SIGKILL)  # Redis comes back empty: its queue and dedup sets are gone
    shutil.rmtree(os.path.join(redis_box.workdir, "appendonlydir"), ignore_errors=True)
    redis_box.start()
    assert redis_lib.Redis.from_url(redis_box.url).dbsize() == 0
    web.stop()
    replayed = CliRunner().invoke(main, ["replay", "--enqueue", "--since", lost_since, "-q"], env=web_env)
    assert replayed.exit_code == 0, replayed.output
    run_burst_worker(web_env)
    assert_exactly_once(data_dir, processed + queued)
