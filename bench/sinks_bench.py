"""Sinks: events/s one worker pushes through the sql sink into a private PostgreSQL, in batches of 100.

A private PostgreSQL (initdb and pg_ctl, durable: fsync and synchronous commits on, as in production) and a
private Redis are started. JOBS delivery jobs of BATCH realistic events each (what ``route_capture`` queues for
one 100-event capture, with fresh guids) are queued for a ``sql`` sink of a routes file, then one
``smartech-dumper worker --burst`` drains them. Times come from RQ's job records, first ``started_at`` to last
``ended_at``, so worker start-up is not counted. The run is checked: every job finished and the table holds
JOBS x BATCH rows.

    python -m bench.sinks_bench [--quick]
"""

import argparse
import json
import os
import subprocess

from bench import batches
from bench.procs import BIN, ROOT, Redis, base_env, scratch_dir
from bench.workers import job_times
from jobs.routing.deliver import delivery
from receiver.capture.analyse import analyse_capture
from receiver.core import queues as queueing
from receiver.core.queues import queue_for
from receiver.core.settings import load
from receiver.routes import config
from tests.support.pg import PrivatePostgres

BATCH = 100
JOBS = 300  # 30,000 events: several seconds at the target rate
QUICK_JOBS = 20
DRAIN_TIMEOUT = 300
DATABASE = "bench"
SINK = "warehouse"
ROUTES = f"""
[sinks.{SINK}]
type = "sql"
url = "{{url}}"

[[routes]]
name = "everything"
to = ["{SINK}"]
"""


def delivery_jobs(settings, sink, count):
    """Return ``count`` delivery jobs of BATCH fresh normalised events each, as ``route_capture`` makes them."""
    jobs = []
    for index in range(count):
        capture = batches.record(batches.body(BATCH))
        events = [{**event, "route": "everything"} for event in analyse_capture(capture, settings).events]
        jobs.append(delivery(settings, sink, events, f"{capture['id']}\0default\0{index}"))
    return jobs


def drain(env, log_path):
    """Run one burst worker until the queues are empty."""
    with open(log_path, "ab") as log:
        subprocess.run(
            [os.path.join(BIN, "smartech-dumper"), "worker", "--burst"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=DRAIN_TIMEOUT,
            check=True,
        )


def run(workdir, jobs=JOBS):
    """Queue ``jobs`` delivery jobs to a sql sink on a private PostgreSQL, drain them with one worker."""
    os.makedirs(workdir, exist_ok=True)
    redis = Redis(os.path.join(workdir, "redis"))
    postgres = PrivatePostgres(durable=True, prefix="sdb-")
    try:
        url = postgres.create_database(DATABASE)
        routes_path = os.path.join(workdir, "routes.toml")
        with open(routes_path, "w") as handle:
            handle.write(ROUTES.format(url=url))
        env = base_env(os.path.join(workdir, "data"), redis.url, DUMPER_ROUTES=routes_path)
        settings = load(env)
        queue = queue_for(settings, queueing.connect(settings), "default")
        made = delivery_jobs(settings, config.load(routes_path).sinks[SINK], jobs)
        queueing.enqueue_jobs_absent(queue, made)
        drain(env, os.path.join(workdir, "worker.log"))
        times = job_times(queue.connection, [job.job_id for job in made])
        with postgres.connect(DATABASE) as connection:
            (rows,) = connection.execute("SELECT count(*) FROM smartech_events").fetchone()
    finally:
        postgres.stop()
        redis.stop()
    seconds = times["seconds"] or 0.0
    out = {
        "batch": BATCH,
        "jobs": jobs,
        "finished": times["finished"],
        "rows": rows,
        "seconds": seconds,
        "events_per_s": rows / seconds if seconds else None,
        "ok": times["finished"] == jobs and rows == jobs * BATCH,
    }
    print(
        f"Sinks: 1 worker, sql sink to PostgreSQL (durable), {jobs} jobs of {BATCH} events: "
        f"{out['events_per_s'] or 0:,.0f} events/s over {seconds:.2f}s {'OK' if out['ok'] else 'CHECK FAILED'}",
        flush=True,
    )
    return out


def main():
    """Run the sinks bench alone and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few jobs: a smoke test")
    options = parser.parse_args()
    with scratch_dir("bench-sinks-") as workdir:
        result = run(workdir, QUICK_JOBS if options.quick else JOBS)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
