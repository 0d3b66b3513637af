"""Replay: captures/s of ``replay --enqueue`` and ``replay --to`` a local receiver, and peak memory by window size.

Writes WINDOW_DAYS[-1] x PER_DAY synthetic captures (``bench.synthetic``: real Smartech bodies,
unique guids, one day file per UTC day ending yesterday), then runs the real CLI in a fresh process
(``bench.peak`` records its own peak RSS) over windows of 1, 10 and 100 days:

- ``replay --dry-run`` over every window: the reading and selection path alone;
- ``replay --enqueue`` into a private Redis over the 1- and 10-day windows;
- ``replay --to`` our receiver (gunicorn, recommended settings) over SEND_LIMIT captures, at
  concurrency 1 and 8; the receiver's new captures must equal the replay's 2xx count.

    python -m bench.replay_bench [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import redis

from bench import captures, synthetic
from bench.procs import OUR_APP, PASSWORD, ROOT, USER, Gunicorn, Redis, base_env, scratch_dir
from bench.report import ratio, table

PER_DAY = 10_000
WINDOW_DAYS = (1, 10, 100)
ENQUEUE_DAYS = (1, 10)
SEND_LIMIT = 5_000
SEND_CONCURRENCY = (1, 8)
RUN_TIMEOUT = 300
MIB = 1024


def window(days):
    """Return the --since/--until options of the last ``days`` whole UTC days."""
    today = datetime.now(UTC).date()
    return ["--since", (today - timedelta(days=days)).isoformat(), "--until", today.isoformat()]


def replay(args, env, workdir):
    """Run ``smartech-dumper replay ARGS -q --json`` in a fresh process; return its summary, peak MiB, seconds."""
    out = os.path.join(workdir, "peak")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench.peak", out, "--", "replay", *args, "-q", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    seconds = time.monotonic() - started
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    summary = next((line["summary"] for line in lines if "summary" in line), None)
    if summary is None:
        raise RuntimeError(f"replay {' '.join(args)} failed ({done.returncode}): {done.stderr[-500:]}")
    with open(out, encoding="ascii") as handle:
        peak = int(handle.read()) / MIB
    return summary, peak, seconds


def row(what, days, summary, peak, seconds):
    """Return one result row as a dict."""
    count = summary["ok"] if not summary["dry_run"] else summary["would_send"]
    return {
        "what": what,
        "window_days": days,
        "captures": count,
        "seconds": seconds,
        "captures_per_s": count / seconds if seconds else None,
        "peak_mib": peak,
        "failed": summary["errors"] + sum(summary["other_status"].values()),
    }


def run(
    workdir,
    per_day=PER_DAY,
    window_days=WINDOW_DAYS,
    enqueue_days=ENQUEUE_DAYS,
    send_limit=SEND_LIMIT,
    setting=("gthread", 2, 4),
):
    """Write the captures, run every replay; return the rows."""
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "var")
    started = time.monotonic()
    written = synthetic.write(data_dir, per_day * window_days[-1], days=window_days[-1])
    print(
        f"Replay: wrote {per_day * window_days[-1]:,} synthetic captures ({written / 1e6:,.0f} MB, "
        f"{per_day:,} per day) in {time.monotonic() - started:.0f}s",
        flush=True,
    )
    redis_server = Redis(os.path.join(workdir, "redis"))
    env = base_env(data_dir, redis_server.url)
    rows = []
    receiver = None
    try:
        for days in window_days:
            rows.append(
                row(
                    "--dry-run",
                    days,
                    *replay(
                        ["--data-dir", data_dir, "--to", "http://127.0.0.1:9/", "--dry-run", *window(days)],
                        env,
                        workdir,
                    ),
                )
            )
            print(f"  dry-run   {days:>3} days done", flush=True)
        for days in enqueue_days:
            redis.Redis.from_url(redis_server.url).flushdb()
            rows.append(
                row("--enqueue", days, *replay(["--data-dir", data_dir, "--enqueue", *window(days)], env, workdir))
            )
            print(f"  --enqueue {days:>3} days done", flush=True)
        receiver_dir = os.path.join(workdir, "receiver")
        receiver = Gunicorn(
            OUR_APP, base_env(receiver_dir, redis_server.url), *setting, log_path=os.path.join(workdir, "receiver.log")
        )
        for concurrency in SEND_CONCURRENCY:
            before = captures.snapshot(receiver_dir)
            summary, peak, seconds = replay(
                [
                    "--data-dir",
                    data_dir,
                    "--to",
                    receiver.url + "/webhook",
                    "--user",
                    USER,
                    "--password",
                    PASSWORD,
                    "--concurrency",
                    str(concurrency),
                    "--limit",
                    str(send_limit),
                    *window(window_days[0]),
                ],
                env,
                workdir,
            )
            result = row(f"--to receiver, concurrency {concurrency}", window_days[0], summary, peak, seconds)
            result["receiver_captures"] = len(captures.ids_since(receiver_dir, before))
            result["check"] = result["receiver_captures"] == summary["ok"] == min(send_limit, per_day)
            rows.append(result)
            print(f"  --to      concurrency {concurrency} done", flush=True)
    finally:
        if receiver:
            receiver.stop()
        redis_server.stop()
    dry = {r["window_days"]: r["peak_mib"] for r in rows if r["what"] == "--dry-run"}
    enq = {r["window_days"]: r["peak_mib"] for r in rows if r["what"] == "--enqueue"}
    out = {
        "per_day": per_day,
        "rows": rows,
        "memory_growth_dry_run": ratio(dry[window_days[-1]], dry[window_days[0]]),
        "memory_growth_enqueue": ratio(enq[enqueue_days[-1]], enq[enqueue_days[0]]),
    }
    table(
        "Replay (fresh process each; seconds include Python start-up; peak = the process's VmHWM)",
        ["command", "window", "captures", "seconds", "captures/s", "peak MiB", "failed", "check"],
        [
            [
                r["what"],
                f"{r['window_days']} d",
                r["captures"],
                r["seconds"],
                r["captures_per_s"],
                r["peak_mib"],
                r["failed"],
                r.get("check", "-"),
            ]
            for r in rows
        ],
    )
    print(
        f"peak memory, largest window / smallest: dry-run x{out['memory_growth_dry_run']:.2f} "
        f"({window_days[-1] // window_days[0]}x the captures), --enqueue x{out['memory_growth_enqueue']:.2f} "
        f"({enqueue_days[-1] // enqueue_days[0]}x the captures)"
    )
    return out


def main():
    """Run the replay bench alone and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small windows: a smoke test")
    options = parser.parse_args()
    with scratch_dir("bench-replay-") as workdir:
        if options.quick:
            result = run(workdir, per_day=500, window_days=(1, 4), enqueue_days=(1, 2), send_limit=300)
        else:
            result = run(workdir)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
