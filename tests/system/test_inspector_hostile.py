"""The inspector's gunicorn (``smartech-dumper inspect``) against hostile sockets, queries and data, over real HTTP.

Idle and half-sent requests must not starve ``/healthz``; hostile query values and ids get a 4xx; a
gzipped day is read without writing under the data dir; a detail lookup and a page of huge captures
stay within their bounds.
"""

import gzip
import os
import secrets
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from receiver.core import jsonl, layout
from receiver.procs.stack import free_port
from receiver.replay import samples
from receiver.store.spill import PREFIX
from tests.support.browser import Inspector
from tests.support.capture_factory import capture_id_at, days_ago, make_capture, smartech_body, write_captures, write_gz
from tests.support.helpers import wait_until
from tests.support.hostile import HOSTILE_ID_PATHS, HOSTILE_QUERIES, LATE_IDS, OVER_9999
from tests.support.procs import BIN, children, output_of

pytestmark = pytest.mark.slow
AUTH = ("viewer", "look")
IDLE, HALF = 20, 20  # sockets that send nothing, and sockets that send half a request line
PROBES = 10
PROBE_WITHIN = 2.0  # seconds a /healthz probe may take with the sockets above held open


@pytest.fixture
def inspector_env(env):
    """Return the settings of an inspector over the test data dir."""
    return {**env, "DUMPER_INSPECT_AUTH": ":".join(AUTH)}


@pytest.fixture
def inspector(inspector_env):
    """Run ``smartech-dumper inspect`` on a free port; yield it, stopped after the test."""
    running = Inspector(inspector_env, free_port())
    yield running
    running.stop()


class HeldSockets:
    """Hold connections open: some send nothing, some half a request line; note when the server closes each."""

    def __init__(self, port, idle, half):
        self.closed_after = []
        self.lock = threading.Lock()
        self.socks = []
        for i in range(idle + half):
            sock = socket.create_connection(("127.0.0.1", port))
            if i >= idle:
                sock.sendall(b"GET /api/captures?limit=")
            self.socks.append(sock)
        self.started = time.monotonic()
        self.threads = [threading.Thread(target=self.watch, args=(sock,), daemon=True) for sock in self.socks]
        for thread in self.threads:
            thread.start()

    def watch(self, sock):
        sock.settimeout(60)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            return
        with self.lock:
            self.closed_after.append(time.monotonic() - self.started)

    def close(self):
        for sock in self.socks:
            sock.close()


def probe(url):
    """Return how long one ``/healthz`` took (its timeout when it did not answer)."""
    started = time.monotonic()
    try:
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
    except requests.Timeout:
        return 10.0
    return time.monotonic() - started


def test_idle_and_half_sent_requests_neither_starve_healthz_nor_stay_open(inspector):
    held = HeldSockets(inspector.url.rsplit(":", 1)[1], IDLE, HALF)
    try:
        slowest = max(probe(inspector.url) for _ in range(PROBES))
        assert slowest < PROBE_WITHIN, f"/healthz waited {slowest:.2f}s behind {IDLE + HALF} held sockets"
        # The header deadline: the server closes every socket that did not finish its headers in time.
        wait_until(lambda: len(held.closed_after) == IDLE + HALF, timeout=30)
    finally:
        held.close()


def test_gunicorn_runs_the_inspector_with_the_webhooks_worker_a_header_deadline_and_a_connection_limit(inspector_env):
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "inspect", "--print-config"],
        env=inspector_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    config = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    config = {name.strip(): value.strip() for name, value in config.items()}
    assert config["worker_class"] == "receiver.web.gunicorn_worker.Worker", config["worker_class"]  # gevent
    assert (config["keepalive"], config["worker_connections"], config["workers"]) == ("5", "200", "2")


@pytest.fixture
def day(data_dir):
    """Write a plain day of three captures and a gzipped day of one before it."""
    older = make_capture(days_ago(2), smartech_body())
    write_gz(data_dir, "captures", older["received_at"][:10], [older])
    return [older] + write_captures(data_dir, [make_capture(days_ago(1, hour=h), smartech_body()) for h in range(3)])


def test_hostile_queries_and_ids_get_a_4xx_or_a_page_never_a_5xx(day, inspector):
    answers = {}
    for query in HOSTILE_QUERIES:
        for path in ("/", "/api/captures"):
            url = f"{inspector.url}{path}?{query.format(id=day[2]['id'])}"
            answers[url] = requests.get(url, auth=AUTH, timeout=10).status_code
    for path in HOSTILE_ID_PATHS:
        answers[path] = requests.get(inspector.url + path, auth=AUTH, timeout=10).status_code
    assert {url: code for url, code in answers.items() if not (code == 200 or 400 <= code < 500)} == {}
    assert answers[f"{inspector.url}/api/captures?until={OVER_9999}"] == 400
    assert answers[f"/captures/{LATE_IDS[0]}"] == 404
    assert "Traceback" not in output_of(inspector.proc)


@pytest.mark.parametrize(
    "args", [["list", "--since", OVER_9999], ["list", "--until", "0001-01-01"], *(["show", i] for i in LATE_IDS)]
)
def test_the_cli_answers_hostile_times_and_ids_with_one_error_line(inspector_env, day, args):
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), *args], env=inspector_env, capture_output=True, text=True, timeout=60
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(errors) == 1, done.stderr
    assert "out of range" in errors[0] or "after 9999-01-01" in errors[0]


class DiskWatch:
    """Sample, every few milliseconds, what the inspector's workers have open under the data dir that is not a
    day file (a temporary copy, linked or not), and how much the spill directory holds; keep the peaks."""

    def __init__(self, master_pid, data_dir, spill_dir):
        self.master_pid, self.data_dir, self.spill_dir = master_pid, os.path.realpath(data_dir), spill_dir
        self.peak_data_dir = self.peak_spill = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def under_data_dir(self):
        total = 0
        for pid in children(self.master_pid):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith(self.data_dir + "/") and not target.endswith((".jsonl", ".jsonl.gz")):
                        total += os.stat(f"/proc/{pid}/fd/{fd}").st_size
                except OSError:
                    continue
        return total

    def in_spill(self):
        try:
            names = os.listdir(self.spill_dir)
        except OSError:
            return 0
        total = 0
        for name in names:
            try:
                total += os.stat(os.path.join(self.spill_dir, name)).st_size
            except OSError:
                continue
        return total

    def run(self):
        while not self.stop.wait(0.005):
            self.peak_data_dir = max(self.peak_data_dir, self.under_data_dir())
            self.peak_spill = max(self.peak_spill, self.in_spill())

    def close(self):
        self.stop.set()
        self.thread.join()


def data_tree(data_dir):
    """Return every file and directory under ``data_dir`` as (relative path, size; 0 for a directory), sorted."""
    found = []
    for root, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = os.path.join(root, name)
            found.append((os.path.relpath(path, data_dir), 0 if name in dirs else os.path.getsize(path)))
    return sorted(found)


def write_big_gz_day(data_dir, count, pad):
    """Write a gzipped day of ``count`` captures, each padded with ``pad`` random hex bytes; return (path, records)."""
    when = days_ago(3)
    records = [
        make_capture(
            when.replace(minute=i // 60 % 60, second=i % 60),
            smartech_body(trailer="&pad=" + secrets.token_hex(pad // 2)),
        )
        for i in range(count)
    ]
    return write_gz(data_dir, "captures", when.strftime("%Y-%m-%d"), records), records


def concurrent_pages(url, day, requests_count):
    """Ask ``requests_count`` pages of ``day`` at once, each reading it all (a filter matching none); return codes."""
    query = {"since": day, "until": f"{day}T23:59:59", "foreignkey": "nobody", "limit": 10}

    def one(_):
        return requests.get(url + "/api/captures", params=query, auth=AUTH, timeout=120).status_code

    with ThreadPoolExecutor(requests_count) as pool:
        return list(pool.map(one, range(requests_count)))


def test_a_gzipped_day_is_read_outside_the_data_dir_and_decompressed_once(inspector_env, data_dir, tmp_path):
    path, records = write_big_gz_day(data_dir, 2000, 4000)
    with gzip.open(path, "rb") as handle:
        size = len(handle.read())
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    inspector = Inspector({**inspector_env, "TMPDIR": str(tmp), "DUMPER_INSPECT_SCAN_SECONDS": "30"}, free_port())
    watch = DiskWatch(inspector.proc.pid, data_dir, str(tmp / f"{PREFIX}{os.getuid()}"))
    try:
        codes = concurrent_pages(inspector.url, records[0]["received_at"][:10], 8)
        first = requests.get(
            inspector.url + "/api/captures",
            params={"limit": 200, "until": records[-1]["received_at"][:10] + "T23:59:59"},
            auth=AUTH,
            timeout=60,
        ).json()
    finally:
        watch.close()
        inspector.stop()
    assert codes == [200] * 8
    assert [row["id"] for row in first["captures"]] == [record["id"] for record in reversed(records)][:200]
    assert watch.peak_data_dir == 0, f"{watch.peak_data_dir:,} bytes written under the data dir"
    assert 0 < watch.peak_spill <= size, f"the spill held {watch.peak_spill:,} bytes for a day of {size:,}"
    assert data_tree(data_dir) == [
        ("captures", 0),
        (os.path.join("captures", os.path.basename(path)), os.path.getsize(path)),
    ]


def write_big_plain_day(data_dir, count):
    """Write a plain day of ``count`` small captures, one each ``SPACING`` from 01:00; return the first and the last."""
    base = make_capture(days_ago(1, hour=1), b"data=x")
    start = days_ago(1, hour=1)
    path = layout.day_path(data_dir, "captures", start.strftime("%Y-%m-%d"))
    jsonl.ensure_dir(os.path.dirname(path))
    first = last = None
    with open(path, "wb") as handle:
        for i in range(count):
            when = start + i * SPACING
            last = dict(base, id=capture_id_at(when), received_at=when.isoformat(timespec="milliseconds")[:23] + "Z")
            first = first or last
            handle.write(jsonl.encode_line(last))
    return first, last


def timed_get(url):
    """Return (status, seconds) of one GET with the inspector's credentials."""
    started = time.monotonic()
    answer = requests.get(url, auth=AUTH, timeout=60)
    return answer.status_code, time.monotonic() - started


SPACING = timedelta(milliseconds=250)  # 300,000 captures from 01:00 to 21:50
DETAIL_WITHIN = 0.5  # seconds, for a day of LOOKUP_DAY captures (a whole read took 0.97 s over 200,000)
LOOKUP_DAY = 300_000


def test_a_detail_lookup_bisects_its_day_instead_of_reading_it(data_dir, inspector):
    first, last = write_big_plain_day(data_dir, LOOKUP_DAY)
    absent = capture_id_at(days_ago(1, hour=1) + LOOKUP_DAY // 2 * SPACING + timedelta(milliseconds=1))
    for path, code in (
        (f"/api/captures/{last['id']}", 200),
        (f"/captures/{absent}", 404),
        (f"/captures/{first['id']}", 200),
    ):
        status, seconds = timed_get(inspector.url + path)
        assert status == code and seconds < DETAIL_WITHIN, (path, status, f"{seconds:.2f}s")


def peak_rss_mb(master_pid):
    """Return the peak resident memory (VmHWM) of each of a gunicorn master's workers, in MB."""
    peaks = {}
    for pid in children(master_pid):
        with open(f"/proc/{pid}/status") as handle:
            peaks[pid] = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:")) / 1024
    return peaks


HUGE_CAPTURES, HUGE_EVENTS = 12, 6000  # each body about 5 MB
PAGE_GROWTH_MB = 260  # what one page may add to a worker's peak (one such capture alone takes 175 MB; all 12 took 366)


def test_a_page_of_huge_captures_holds_a_few_and_links_to_the_rest(data_dir, inspector):
    body = samples.encode_body(samples.payload([samples.channel_event("SMS_CLICK") for _ in range(HUGE_EVENTS)]))
    write_captures(data_dir, [make_capture(days_ago(1, hour=2).replace(minute=i), body) for i in range(HUGE_CAPTURES)])
    before = peak_rss_mb(inspector.proc.pid)
    answer = requests.get(inspector.url + "/api/captures?limit=50", auth=AUTH, timeout=60).json()
    grown = max(peak - before[pid] for pid, peak in peak_rss_mb(inspector.proc.pid).items())
    assert 1 <= len(answer["captures"]) < HUGE_CAPTURES and answer["next"], len(answer["captures"])
    assert grown < PAGE_GROWTH_MB, (
        f"a page of {len(answer['captures'])} captures of {len(body):,} bytes took {grown:.0f} MB"
    )
    seen, url = [row["id"] for row in answer["captures"]], answer["next"]
    while url:
        answer = requests.get(inspector.url + url, auth=AUTH, timeout=60).json()
        seen, url = seen + [row["id"] for row in answer["captures"]], answer["next"]
    assert len(seen) == len(set(seen)) == HUGE_CAPTURES


def test_long_scans_in_both_processes_do_not_hold_up_healthz(inspector_env, data_dir):
    write_big_plain_day(data_dir, 50_000)  # more than a scan of 3 s can decode
    inspector = Inspector({**inspector_env, "DUMPER_INSPECT_SCAN_SECONDS": "3"}, free_port())
    try:
        with ThreadPoolExecutor(4) as pool:
            scans = [
                pool.submit(requests.get, inspector.url + "/api/captures?foreignkey=nobody", auth=AUTH, timeout=60)
                for _ in range(4)
            ]
            slowest = max(probe(inspector.url) for _ in range(PROBES))
            assert slowest < PROBE_WITHIN / 2, f"/healthz waited {slowest:.2f}s behind scans"
            assert not all(scan.done() for scan in scans), "the scans ended before the probes did: nothing was tested"
            assert [scan.result().status_code for scan in scans] == [200] * 4
    finally:
        inspector.stop()
