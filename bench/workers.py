"""Workers: captures/s of one worker of ours against RQ's own no-op jobs/s, on the same worker class.

For each capture size (1, 10, 100 events), N captures of realistic events with unique guids are queued
in a private Redis exactly as the forwarder queues them (many to a job), then WORKERS burst workers
(``smartech-dumper worker --burst --worker-class CLASS``, default settings, so the events sink
fsyncs) drain the queue. The same captures are then queued one job each of ``bench.noop.noop`` (same
enqueue options, serializer and payload) and drained the same way: that is RQ's own cost per job,
which a worker of one capture a job could never beat.
Ours and the no-op alternate in ABBA order, half the jobs each time, so a drift in the machine's
load cancels out.
Times come from RQ's job records, first ``started_at`` to last ``ended_at``, so worker start-up
is not counted. Every run is checked: all jobs finished, events written = captures x batch size.

    python -m bench.workers [--quick]
"""

import argparse
import glob
import json
import os
import subprocess
import time
from unittest import mock

from rq.job import Job
from rq.serializers import JSONSerializer

from bench import batches
from bench.procs import BIN, ROOT, Redis, base_env, scratch_dir
from bench.report import ratio, table
from receiver.core import layout
from receiver.core import queues as queueing
from receiver.core import settings as settings_mod
from receiver.core.jsonl import encode_line
from receiver.forwarder import enqueue

BATCH_SIZES = (1, 10, 100)
WORKERS = 1
# Captures per run: enough for a few seconds of work each, bounded by DRAIN_TIMEOUT.
JOBS = {"simple": {1: 4000, 10: 2000, 100: 500}, "fork": {1: 1000, 10: 1000, 100: 300}}
DRAIN_TIMEOUT = 120
NOOP_FUNCTION = "bench.noop.noop"
FETCH_CHUNK = 1000


class Runner:
    """Queue jobs into a private Redis and time burst workers draining them."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.redis = Redis(os.path.join(workdir, "redis"))
        self.runs = 0

    def env(self, data_dir, **extra):
        """Return the workers' environment: defaults, except the private Redis and data dir."""
        return base_env(data_dir, self.redis.url, DUMPER_LOG_LEVEL="INFO", **extra)

    def queue(self, env):
        """Return the RQ queue of ``env``'s settings."""
        return queueing.get_queue(settings_mod.load(env))

    def enqueue(self, env, records, noop=False):
        """Queue the records as the forwarder does (no-op: one job each); return the distinct job ids."""
        queue, settings = self.queue(env), settings_mod.load(env)
        if noop:
            with mock.patch.object(enqueue, "JOB_FUNCTION", NOOP_FUNCTION):
                for record in records:
                    enqueue.enqueue_capture(queue, record, settings)
        elif hasattr(enqueue, "enqueue_items"):
            enqueue.enqueue_items(queue, [(record["id"], line_of(record)) for record in records], settings)
        else:  # a tree from before jobs of many captures (a "before" run): one job per capture, its id the capture's
            enqueue.enqueue_absent(queue, records, settings)
        ids = [record["id"] for record in records]
        if not hasattr(queueing, "jobs_of"):
            return ids
        return list(dict.fromkeys(queueing.jobs_of(queue.connection, queue.name, ids)))

    def drain(self, env, worker_class, job_ids):
        """Run WORKERS burst workers until the queue is empty; return seconds per job and the job states."""
        log = open(os.path.join(self.workdir, "workers.log"), "ab")
        cmd = [os.path.join(BIN, "smartech-dumper"), "worker", "--burst", "--worker-class", worker_class]
        procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT) for _ in range(WORKERS)]
        deadline = time.monotonic() + DRAIN_TIMEOUT
        try:
            for proc in procs:
                proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            log.close()
        return job_times(self.queue(env).connection, job_ids)

    def run(self, worker_class, batch, count, noop=False, **extra):
        """Queue ``count`` captures of ``batch`` events and drain them; return the figures."""
        self.runs += 1
        data_dir = os.path.join(self.workdir, f"run-{self.runs}")
        env = self.env(data_dir, **extra)
        self.queue(env).connection.flushdb()
        records = [batches.record(batches.body(batch)) for _ in range(count)]
        job_ids = self.enqueue(env, records, noop)
        times = self.drain(env, worker_class, job_ids)
        events = count_lines(data_dir, layout.EVENTS)
        rejects = count_lines(data_dir, layout.REJECTS)
        ok = times["finished"] == len(job_ids) and rejects == 0 and events == (0 if noop else count * batch)
        return {
            "jobs": count,  # captures: the no-op runs one job each
            "finished": times["finished"],
            "events": events,
            "rejects": rejects,
            "seconds": times["seconds"] or 0.0,
            "ok": ok,
        }

    def compare(self, worker_class, batch, count):
        """Time ours and the no-op in ABBA order (half the jobs each time), so drift cancels out."""
        half = max(1, count // 2)
        parts = {"ours": [], "noop": []}
        for noop in (False, True, True, False):
            parts["noop" if noop else "ours"].append(self.run(worker_class, batch, half, noop=noop))
        return {name: combine(runs) for name, runs in parts.items()}

    def close(self):
        """Stop the private Redis."""
        self.redis.stop()


def combine(runs):
    """Add up runs of the same kind and derive the rates."""
    total = {key: sum(run[key] for run in runs) for key in ("jobs", "finished", "events", "rejects", "seconds")}
    seconds = total["seconds"]
    total.update(
        ok=all(run["ok"] for run in runs),
        jobs_per_s=total["jobs"] / seconds if seconds else None,  # captures/s (ours), jobs/s (no-op)
        events_per_s=total["events"] / seconds if seconds and total["events"] else None,
        ms_per_job=1000 * seconds / total["jobs"] if total["jobs"] else None,  # per capture
    )
    return total


def job_times(connection, job_ids):
    """Return how many jobs finished and the seconds from the first start to the last end."""
    started, ended, finished = [], [], 0
    for start in range(0, len(job_ids), FETCH_CHUNK):
        for job in Job.fetch_many(
            job_ids[start : start + FETCH_CHUNK], connection=connection, serializer=JSONSerializer
        ):
            if job is None or job.started_at is None or job.ended_at is None:
                continue
            started.append(job.started_at)
            ended.append(job.ended_at)
            finished += job.get_status(refresh=False) == "finished"
    seconds = (max(ended) - min(started)).total_seconds() if started else None
    return {"finished": finished, "seconds": seconds}


def line_of(record):
    """Return the captures line of ``record``, as the receiver writes it and the forwarder hands it over."""
    return encode_line(record).decode()


def count_lines(data_dir, kind):
    """Count the lines of the ``kind`` files (events, rejects) under ``data_dir``."""
    total = 0
    for path in glob.glob(os.path.join(data_dir, kind, "*.jsonl")):
        with open(path, "rb") as handle:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return total


def run(workdir, jobs=JOBS, batch_sizes=BATCH_SIZES, fsync_off=True):
    """Measure both worker classes at every batch size, ours and no-op; return every figure."""
    os.makedirs(workdir, exist_ok=True)
    runner = Runner(workdir)
    out = {"workers": WORKERS, "runs": []}
    print(
        f"Workers: {WORKERS} burst workers per run, default settings (DUMPER_FSYNC=true), "
        "time = first job start to last job end",
        flush=True,
    )
    try:
        for worker_class in ("simple", "fork"):
            for batch in batch_sizes:
                both = runner.compare(worker_class, batch, jobs[worker_class][batch])
                ours, noop = both["ours"], both["noop"]
                row = {
                    "worker_class": worker_class,
                    "batch": batch,
                    "ours": ours,
                    "noop": noop,
                    "overhead_ratio": ratio(ours["ms_per_job"], noop["ms_per_job"]),
                }
                out["runs"].append(row)
                print(
                    f"  {worker_class:<6} batch {batch:>3}: ours {ours['jobs_per_s']:8,.0f} jobs/s "
                    f"{ours['events_per_s']:9,.0f} events/s | no-op {noop['jobs_per_s']:8,.0f} jobs/s | "
                    f"x{row['overhead_ratio']:.2f} {'OK' if ours['ok'] and noop['ok'] else 'CHECK FAILED'}",
                    flush=True,
                )
        if fsync_off:
            out["fsync_off"] = []
            for batch in (batch_sizes[0], batch_sizes[-1]):
                figures = combine([runner.run("simple", batch, jobs["simple"][batch] // 2, DUMPER_FSYNC="false")])
                out["fsync_off"].append({"worker_class": "simple", "batch": batch, "ours": figures})
    finally:
        runner.close()
    print_tables(out)
    return out


def print_tables(out):
    """Print the workers table and the fsync comparison."""
    table(
        f"Workers ({out['workers']} processes per run): our job against RQ's no-op job on the same payload",
        [
            "class",
            "batch",
            "jobs",
            "ours jobs/s",
            "ours events/s",
            "ours ms/job",
            "no-op jobs/s",
            "no-op ms/job",
            "x time/job",
            "checks",
        ],
        [
            [
                r["worker_class"],
                r["batch"],
                r["ours"]["jobs"],
                r["ours"]["jobs_per_s"],
                r["ours"]["events_per_s"],
                r["ours"]["ms_per_job"],
                r["noop"]["jobs_per_s"],
                r["noop"]["ms_per_job"],
                r["overhead_ratio"],
                r["ours"]["ok"] and r["noop"]["ok"],
            ]
            for r in out["runs"]
        ],
        digits=2,
    )
    if out.get("fsync_off"):
        with_fsync = {(r["worker_class"], r["batch"]): r["ours"] for r in out["runs"]}
        table(
            "Worker fsync cost (SimpleWorker): DUMPER_FSYNC=true (default) against false",
            ["batch", "events/s fsync on", "events/s fsync off", "on / off"],
            [
                [
                    r["batch"],
                    with_fsync[("simple", r["batch"])]["events_per_s"],
                    r["ours"]["events_per_s"],
                    ratio(with_fsync[("simple", r["batch"])]["events_per_s"], r["ours"]["events_per_s"]),
                ]
                for r in out["fsync_off"]
            ],
            digits=2,
        )


def main():
    """Run the workers bench alone and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few jobs: a smoke test")
    options = parser.parse_args()
    with scratch_dir("bench-workers-") as workdir:
        jobs = {cls: {b: 50 for b in BATCH_SIZES} for cls in JOBS} if options.quick else JOBS
        result = run(workdir, jobs)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
