"""The web inspector on a real day: first-page times of ``GET /`` and ``GET /api/captures`` over 1,000,000 captures.

One day file of ``count`` synthetic captures (``synthetic.py``) is written,
then ``smartech-dumper inspect`` runs under its own gunicorn and each URL is
fetched ``rounds`` times: the first page with no filter, with a filter every
capture passes, a deep page reached through "Older" links, and a filter that
matches nothing (it reads until its time budget, ``DUMPER_INSPECT_SCAN_SECONDS``).
The inspector's worker RSS is read afterwards: a page never loads the day.

    .venv/bin/python -m bench.inspect_bench [--count 1000000] [--rounds 20]
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import requests

from bench import synthetic
from bench.procs import ROOT, children, free_port, rss_mb, scratch_dir, stop
from bench.report import table
from receiver.replay import samples

USER, PASSWORD = "inspector", "bench-secret"
COUNT, ROUNDS, DEEP_PAGES = 1_000_000, 20, 20
FIRST_PAGE_TARGET_MS = 500  # what "fast" means for a person waiting for the list


def start_inspector(data_dir, port, log_path):
    """Start the inspector under gunicorn on ``port``; return the Popen once it answers."""
    env = dict(
        os.environ,
        DUMPER_DATA_DIR=data_dir,
        DUMPER_INSPECT_AUTH=f"{USER}:{PASSWORD}",
        DUMPER_LOG_LEVEL="WARNING",
        REDIS_URL="redis://127.0.0.1:1/0",  # the list never touches Redis
        PYTHONPATH=ROOT,
    )
    command = [
        os.path.join(os.path.dirname(sys.executable), "smartech-dumper"),
        "inspect",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    log = open(log_path, "ab")
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("the inspector did not answer")


def timed(session, url, rounds):
    """Fetch ``url`` ``rounds`` times; return the times in ms and the last answer."""
    times, answer = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        answer = session.get(url, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])
    return times, answer


def deep_page(session, base, pages):
    """Follow ``pages`` "Older" links of the API from the first page; return the URL of the last one."""
    url = base + "/api/captures"
    for _ in range(pages):
        url = base + session.get(url, timeout=60).json()["next"]
    return url


def run(workdir, count=COUNT, rounds=ROUNDS):
    """Write the day, serve it, time the pages; return the results."""
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "var")
    started = time.monotonic()
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    size = synthetic.write(data_dir, count, days=1, end=end)  # today: the day the list opens on
    written = time.monotonic() - started
    print(f"wrote {count:,} captures ({size / 2**20:,.0f} MiB) in one day file in {written:.1f}s", flush=True)
    port = free_port()
    proc = start_inspector(data_dir, port, os.path.join(workdir, "inspector.log"))
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.auth = (USER, PASSWORD)
    try:
        deep = deep_page(session, base, DEEP_PAGES)
        cases = [
            ("GET / (first page, 50)", base + "/"),
            ("GET /api/captures (first page, 50)", base + "/api/captures"),
            (f"GET / ?foreignkey={samples.FOREIGN_KEY} (all match)", f"{base}/?foreignkey={samples.FOREIGN_KEY}"),
            (f"GET /api/captures, page {DEEP_PAGES + 1} via Older links", deep),
            ("GET /api/captures ?foreignkey=nobody (time budget)", base + "/api/captures?foreignkey=nobody"),
        ]
        rows, results = [], {}
        for name, url in cases:
            times, answer = timed(session, url, rounds if "nobody" not in url else max(2, rounds // 10))
            scanned = answer.json().get("scanned") if "/api/" in url else None
            figures = {
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(sorted(times)[math.ceil(len(times) * 0.95) - 1], 1),
                "max_ms": round(max(times), 1),
                "scanned": scanned,
            }
            results[name] = figures
            rows.append([name, figures["median_ms"], figures["p95_ms"], figures["max_ms"], scanned or ""])
        rss = max(rss_mb(pid) for pid in children(proc.pid))
    finally:
        stop(proc)
    table(
        f"Inspector over one day of {count:,} captures ({rounds} rounds each; gunicorn gevent, 2 processes)",
        ["request", "median ms", "p95 ms", "max ms", "captures read"],
        rows,
        digits=1,
    )
    print(f"inspector worker RSS after the runs: {rss:.1f} MB")
    return {"count": count, "bytes": size, "pages": results, "worker_rss_mb": round(rss, 1)}


def main():
    """Run the bench from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args()
    with scratch_dir("inspect-") as workdir:
        run(workdir, options.count, options.rounds)


if __name__ == "__main__":
    main()
