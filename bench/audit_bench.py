"""`smartech-dumper audit` over a day of many captures: wall time and peak memory, at two sizes (flat memory?).

A day of synthetic SMS_CLICK captures (``bench.synthetic``) is written, and the ledger index is filled as
the workers would have left it (one ``seen`` row per capture, written straight into SQLite: writing the
events through real workers would take longer than the audit being measured), but for the last
``MISSING`` captures, which are in neither the index nor Redis. The audit must then count every capture
and name exactly those as missing. It runs as its own process against a private redis-server.

    python -m bench.audit_bench [--captures 1000000]
"""

import argparse
import json
import multiprocessing
import os
import sqlite3
import subprocess
import time

from bench import synthetic
from bench.procs import Redis, base_env, scratch_dir
from receiver.core import layout
from receiver.forwarder import cursor
from receiver.ledger import index as ledger_index

MISSING = 100  # captures handed to the queue and lost from it: the audit must name each


def fill_index(data_dir, missing):
    """Index every capture but the last ``missing`` as processed; return the ids left out."""
    ledger_index.connect(data_dir).close()  # the file and its layout, as a worker makes them
    ledger_index._open.clear()
    ids = []
    for name in sorted(os.listdir(os.path.join(data_dir, "captures"))):
        with open(os.path.join(data_dir, "captures", name), "rb") as handle:
            ids.extend(json.loads(line[: line.index(b',"received_at"')] + b"}")["id"] for line in handle)
    connection = sqlite3.connect(layout.spool_path(data_dir, layout.LEDGER_FILE))
    rows = (("events", f"c:{i}:0", "d", "p", 1, 0, i, None) for i in ids[: len(ids) - missing])
    connection.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    connection.commit()
    connection.close()
    return ids[len(ids) - missing :]


def setup(data_dir, count, answer):
    """Write the captures and the index (in a process of its own: see ``measure``); send the ids left out."""
    synthetic.write(data_dir, count, days=1)
    answer.send(fill_index(data_dir, MISSING))
    for name in os.listdir(os.path.join(data_dir, "captures")):  # the forwarder handed every capture over
        path = os.path.join(data_dir, "captures", name)
        cursor.save(data_dir, cursor.Cursor(name[:10], os.path.getsize(path)))


def measure(count):
    """Write ``count`` captures, audit them; return the figures.

    The data is made in a spawned process: a child's peak RSS counts the parent's memory it was forked
    from, so the audit must fork from a process that never held a million ids.
    """
    with scratch_dir("audit-") as work:
        data_dir = os.path.join(work, "var")
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        maker = context.Process(target=setup, args=(data_dir, count, send))
        maker.start()
        left_out = receive.recv()
        maker.join()
        redis = Redis(os.path.join(work, "redis"))
        try:
            env = base_env(data_dir, redis.url)
            out = os.path.join(work, "audit.json")
            started = time.perf_counter()
            with open(out, "w") as handle:
                proc = subprocess.Popen(["smartech-dumper", "audit", "--json", "--since", "3d"], env=env, stdout=handle)
                _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not every child's
            wall = time.perf_counter() - started
        finally:
            redis.stop()
        with open(out) as handle:
            books = json.load(handle)
        assert books["totals"]["captures"] == count, books["totals"]
        code = os.waitstatus_to_exitcode(status)
        assert sorted(books["missing"]) == sorted(left_out), (len(books["missing"]), len(left_out), books["totals"])
        assert code == 1, code
        size = sum(e.stat().st_size for e in os.scandir(os.path.join(data_dir, "captures")))
        return {
            "captures": count,
            "captures_mib": round(size / 2**20),
            "wall_s": round(wall, 2),
            "captures_per_s": round(count / wall),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=1_000_000)
    args = parser.parse_args()
    for count in (max(args.captures // 10, 10 * MISSING), args.captures):
        print(json.dumps(measure(count)))


if __name__ == "__main__":
    main()
