"""Run every bench (ack, forwarder, workers, replay, sinks, inspector), print the targets, write the results JSON.

make bench          # or: .venv/bin/python -m bench.run [--quick] [--skip ack,forwarder,workers,replay,sinks,inspect]
"""

import argparse
import json
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime

from bench import (
    ack,
    disk_sync,
    forwarder_cost,
    inspect_bench,
    load,
    replay_bench,
    sinks_bench,
    worker_recovery,
    workers,
)
from bench.procs import RESULTS, ROOT, scratch_dir
from bench.report import table

STEPS = ("disk", "ack", "forwarder", "workers", "recovery", "replay", "sinks", "inspect")
TROUBLE_P99_MAX = 1.25
ACK_RATIO_MIN, ACK_P99_MAX = 0.5, 2.0  # issue 22: acks/s >= 0.5 x bare Flask, p99 <= 2 x bare (gthread 2x4)
WORKER_RATE_MIN, EVENTS_MIN, MEMORY_GROWTH_MAX, RSS_MAX_MB = 5.0, 5000, 1.2, 80
SQL_SINK_EVENTS_MIN = 10_000  # one worker, 100-event batches into PostgreSQL
FORWARDER_CPU_MAX_US = 20.0  # the forwarder's own CPU per capture
RECOVERY_MAX_S = 15.0  # a SIGKILLed worker's capture processed again


def verdict(ok):
    """Return PASS or GAP (or n/a when not measured)."""
    return "n/a" if ok is None else "PASS" if ok else "GAP"


def targets(results):
    """Return the rows of the target table: what, target, measured, verdict."""
    rows = []
    a = results.get("ack")
    if a:
        ours = a["main"]["ours"]
        rows += [
            [
                f"ack req/s, ours / bare, {a['recommended']['worker_class']} x{a['recommended']['workers']}",
                f">= {ACK_RATIO_MIN}",
                ours["ratios"]["rps"],
                verdict(ours["ratios"]["rps"] >= ACK_RATIO_MIN),
            ],
        ]
        g = a.get("gthread")
        if g:
            rows += [
                [
                    "ack req/s, ours / bare, gthread 2x4",
                    f">= {ACK_RATIO_MIN}",
                    g["ours"]["ratios"]["rps"],
                    verdict(g["ours"]["ratios"]["rps"] >= ACK_RATIO_MIN),
                ],
                [
                    "ack p99, ours / bare, gthread 2x4",
                    f"<= {ACK_P99_MAX}",
                    g["ours"]["ratios"]["p99"],
                    verdict(g["ours"]["ratios"]["p99"] <= ACK_P99_MAX),
                ],
            ]
        for mode in ("backlog", "redis-down"):
            moved = a["trouble"][mode]["ours"]["vs_normal"]["p99"]
            rows.append(
                [f"ack p99 with {mode} / normal", f"<= {TROUBLE_P99_MAX}", moved, verdict(moved <= TROUBLE_P99_MAX)]
            )
        checks = (
            [v.get("captures_check") for v in a["main"].values()]
            + [a["trouble"][m]["ours"].get("captures_check") for m in ("backlog", "redis-down")]
            + [p["captures_check"] for p in a["trouble"]["probes"].values()]
        )
        rows.append(
            [
                "every 200 has its capture (all rounds)",
                "all",
                "yes" if all(c is not False for c in checks) else "NO",
                verdict(all(c is not False for c in checks)),
            ]
        )
        rss = max(mb for v in a["main"].values() for mb in v["rss_mb"])
        rows.append(["web worker RSS, MB (max)", f"< {RSS_MAX_MB}", rss, verdict(rss < RSS_MAX_MB)])
    w = results.get("workers")
    if w:
        for run in w["runs"]:
            if run["worker_class"] == "simple" and run["batch"] == 1:
                rate = round(run["ours"]["jobs_per_s"] / run["noop"]["jobs_per_s"], 2)
                rows.append(
                    [
                        f"{w['workers']} worker: {run['batch']}-event captures/s / RQ no-op jobs/s",
                        f">= {WORKER_RATE_MIN}",
                        rate,
                        verdict(rate >= WORKER_RATE_MIN and run["ours"]["ok"]),
                    ]
                )
        big = max((r for r in w["runs"] if r["worker_class"] == "simple"), key=lambda r: r["batch"])
        rows.append(
            [
                f"events/s, batch {big['batch']}, {w['workers']} SimpleWorkers",
                f">= {EVENTS_MIN:,}",
                big["ours"]["events_per_s"],
                verdict(big["ours"]["events_per_s"] >= EVENTS_MIN),
            ]
        )
    f = results.get("forwarder")
    if f:
        cpu = f["forwarder_cpu_us_per_capture"]
        rows.append(
            [
                "forwarder CPU per capture, µs",
                f"<= {FORWARDER_CPU_MAX_US:.0f}",
                cpu,
                verdict(cpu <= FORWARDER_CPU_MAX_US),
            ]
        )
    k = results.get("recovery")
    if k:
        for name, seconds in k["seconds"].items():
            rows.append(
                [
                    f"SIGKILLed {name} worker's capture processed again, s",
                    f"<= {RECOVERY_MAX_S:.0f}",
                    seconds,
                    verdict(seconds is not None and seconds <= RECOVERY_MAX_S),
                ]
            )
    r = results.get("replay")
    if r:
        for name in ("dry_run", "enqueue"):
            growth = r[f"memory_growth_{name}"]
            rows.append(
                [
                    f"replay peak RSS growth, largest / smallest window ({name.replace('_', '-')})",
                    f"<= {MEMORY_GROWTH_MAX}",
                    growth,
                    verdict(growth <= MEMORY_GROWTH_MAX),
                ]
            )
    s = results.get("sinks")
    if s:
        rows.append(
            [
                f"sql sink events/s into PostgreSQL, batch {s['batch']}, 1 SimpleWorker",
                f">= {SQL_SINK_EVENTS_MIN:,}",
                s["events_per_s"],
                verdict(s["ok"] and (s["events_per_s"] or 0) >= SQL_SINK_EVENTS_MIN),
            ]
        )
    i = results.get("inspect")
    if i:
        for name, figures in i["pages"].items():
            if "first page" in name:
                rows.append(
                    [
                        f"inspector {name} over {i['count']:,} captures, median ms",
                        f"<= {inspect_bench.FIRST_PAGE_TARGET_MS}",
                        figures["median_ms"],
                        verdict(figures["median_ms"] <= inspect_bench.FIRST_PAGE_TARGET_MS),
                    ]
                )
    return rows


def recommendations(results):
    """Print the settings the figures recommend."""
    a, w = results.get("ack"), results.get("workers")
    if a:
        rec = a["recommended"]
        print(
            f"Recommended gunicorn settings (most req/s for ours in the sweep): worker_class={rec['worker_class']}, "
            f"WEB_CONCURRENCY={rec['workers']}"
        )
        cost = a["fsync_cost"]
        print(
            f"DUMPER_FSYNC=true (default) costs: ack req/s x{cost['rps']:.2f}, p99 x{cost['p99']:.2f} "
            "against DUMPER_FSYNC=false"
        )
        down, probe = a["trouble"]["redis-down"]["ours"], a["trouble"]["probes"]["redis-down"]
        print(
            f"Redis down: loaded ({a['connections']} connections) p50 {down['p50']:.2f} ms, p99 {down['p99']:.2f} ms "
            f"over {down['requests']:,} requests; unloaded (1 connection) p50 {probe['p50']:.2f} ms, "
            f"p99 {probe['p99']:.2f} ms over {probe['ok']:,} requests, every 200 captured: "
            f"{'yes' if down.get('captures_check') and probe['captures_check'] else 'NO'}"
        )
    d = results.get("disk")
    if d:
        print(f"Disk: fdatasync after a {d['bytes']} B append: p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms")
    f = results.get("forwarder")
    if f:
        print(
            f"Forwarder: {f['wall_us_per_capture']} µs per capture ({f['captures_per_s']:,}/s): "
            f"{f['forwarder_cpu_us_per_capture']} µs of its own CPU, "
            f"{f['redis_cpu_us_per_capture']} µs of redis-server's"
        )
    if w:
        by = {(r["worker_class"], r["batch"]): r["ours"] for r in w["runs"]}
        speedups = [
            by[("simple", b)]["events_per_s"] / by[("fork", b)]["events_per_s"]
            for (cls, b) in by
            if cls == "simple" and ("fork", b) in by
        ]
        if speedups:
            print(
                f"Worker class: SimpleWorker (recommended, the CLI default) gives x{min(speedups):.1f} to "
                f"x{max(speedups):.1f} the forking Worker's events/s here. Trade-off: it runs each job in the "
                "worker process, so a job that crashes the interpreter or leaks memory takes the worker with it, "
                "where the forking Worker pays a fork per job to isolate each one."
            )


def main():
    """Run the benches, print the summary, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs: a smoke test of the scripts")
    parser.add_argument("--skip", default="", help="comma-separated steps to skip: " + ",".join(STEPS))
    options = parser.parse_args()
    skip = {step for step in options.skip.split(",") if step}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so every started process is stopped
    load.ensure_wrk()
    started = time.monotonic()
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": os.getloadavg(),
        },
    }
    with scratch_dir("run-") as workdir:
        if "disk" not in skip:
            print("=" * 30 + " 0. the disk's sync " + "=" * 30, flush=True)
            results["disk"] = disk_sync.run(os.path.join(workdir, "disk"), 200 if options.quick else disk_sync.COUNT)
        if "ack" not in skip:
            print("=" * 30 + " 1-2. ack path " + "=" * 30, flush=True)
            results["ack"] = (
                ack.run(
                    os.path.join(workdir, "ack"),
                    seconds=2,
                    rounds=1,
                    sweep_seconds=2,
                    settings=ack.SETTINGS[:2],
                    trouble_rounds=1,
                    prefill_count=2000,
                )
                if options.quick
                else ack.run(os.path.join(workdir, "ack"))
            )
        if "forwarder" not in skip:
            print("=" * 30 + " 2b. forwarder " + "=" * 30, flush=True)
            count = 2000 if options.quick else forwarder_cost.COUNT
            results["forwarder"] = forwarder_cost.run(os.path.join(workdir, "forwarder"), count)
        if "workers" not in skip:
            print("=" * 30 + " 3. workers " + "=" * 30, flush=True)
            jobs = workers.JOBS
            if options.quick:
                jobs = {cls: {batch: 50 for batch in workers.BATCH_SIZES} for cls in workers.JOBS}
            results["workers"] = workers.run(os.path.join(workdir, "workers"), jobs)
        if "recovery" not in skip:
            print("=" * 30 + " 3b. recovery of a SIGKILLed worker's job " + "=" * 30, flush=True)
            found = worker_recovery.run(os.path.join(workdir, "recovery"))
            results["recovery"] = {
                "seconds": {f"{cls}, {case}": s for cls, cases in found.items() for case, s in cases.items()}
            }
        if "replay" not in skip:
            print("=" * 30 + " 4. replay " + "=" * 30, flush=True)
            setting = tuple(results["ack"]["recommended"].values()) if "ack" in results else ack.DEFAULT_SETTING
            kwargs = dict(per_day=500, window_days=(1, 4), enqueue_days=(1, 2), send_limit=300) if options.quick else {}
            results["replay"] = replay_bench.run(os.path.join(workdir, "replay"), setting=setting, **kwargs)
        if "sinks" not in skip:
            print("=" * 30 + " 5. sinks " + "=" * 30, flush=True)
            jobs = sinks_bench.QUICK_JOBS if options.quick else sinks_bench.JOBS
            results["sinks"] = sinks_bench.run(os.path.join(workdir, "sinks"), jobs)
        if "inspect" not in skip:
            print("=" * 30 + " 6. web inspector " + "=" * 30, flush=True)
            count = 20_000 if options.quick else inspect_bench.COUNT
            results["inspect"] = inspect_bench.run(os.path.join(workdir, "inspect"), count=count)
    results["seconds"] = round(time.monotonic() - started)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["targets"] = [dict(zip(("what", "target", "measured", "verdict"), row)) for row in targets(results)]
    print("=" * 30 + " summary " + "=" * 30)
    table(
        f"Targets (ratios measured in this run; {results['seconds']}s; load average at start "
        f"{results['machine']['load_average_at_start'][0]:.2f})",
        ["what", "target", "measured", "verdict"],
        targets(results),
        digits=2,
    )
    recommendations(results)
    path = os.path.join(RESULTS, "latest.json")
    with open(path, "w") as out:
        json.dump(results, out, indent=1, default=str)
    print(f"\nwrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
