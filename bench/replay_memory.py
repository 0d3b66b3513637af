"""Show that replay, list and stats stream: peak RSS stays flat as the window grows.

Writes ``--count`` synthetic captures (default 1,200,000, about 1.1 GB) over
``DAYS`` day files into a temporary data dir, then runs each command over
growing windows in a fresh process (``bench.peak``) and prints its peak RSS:

    python -m bench.replay_memory [--count N] [--send N] [--keep DIR]

``replay --dry-run --json`` and ``list``/``stats`` cover the readers and the
decoding; ``replay --to`` a bare gunicorn app with ``--concurrency 8
--resume`` covers the thread pool, the HTTP sessions and the state file.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from bench import synthetic
from bench.procs import BARE_APP, Gunicorn, base_env
from receiver.core.layout import CAPTURES

DAYS = 12
MIB = 1024
DRY_RUN = ["replay", "--to", "http://127.0.0.1:9/webhook", "--dry-run", "--json"]


def peak(args, data_dir, workdir):
    """Run one CLI command in a fresh process; return (peak RSS in MiB, seconds)."""
    out = os.path.join(workdir, "peak")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "bench.peak", out, "--", *args, "--data-dir", data_dir],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    with open(out, encoding="ascii") as handle:
        return int(handle.read()) / MIB, time.monotonic() - started


def windows(total):
    """Return ``(label, options, captures)`` windows of growing size: 10,000, one day, a third, all."""
    per_day = total / DAYS
    today = datetime.now(UTC).date()

    def days(count):
        since = (today - timedelta(days=count)).isoformat()
        return (
            f"last {count} day{'s' if count > 1 else ''}",
            ["--since", since, "--until", today.isoformat()],
            round(per_day * count),
        )

    return [("first 10,000", ["--limit", "10000"], 10000), days(1), days(DAYS // 3), ("everything", [], total)]


def row(name, window, count, rss, seconds):
    """Print one result line."""
    print(f"{name:<28} {window:<14} {count:>10,} {rss:>10.1f} {seconds:>9.1f}", flush=True)


def main():
    """Generate the data, run the commands, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_200_000, help="synthetic captures to write")
    parser.add_argument("--send", type=int, default=50_000, help="largest real --to replay")
    parser.add_argument("--keep", help="use (and keep) this data dir instead of a temporary one")
    options = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="replay-memory-")
    data_dir = options.keep or os.path.join(workdir, "var")
    try:
        if not os.path.isdir(os.path.join(data_dir, CAPTURES)):
            started = time.monotonic()
            written = synthetic.write(data_dir, options.count, days=DAYS)
            print(f"wrote {options.count:,} captures, {written / 1e9:.2f} GB, in {time.monotonic() - started:.0f}s")
        print(f"{'command':<28} {'window':<14} {'captures':>10} {'peak MiB':>10} {'seconds':>9}")
        for label, extra, count in windows(options.count):
            row("replay --dry-run --json", label, count, *peak(DRY_RUN + extra, data_dir, workdir))
        for label, extra, count in windows(options.count)[:3]:
            row("list --json", label, count, *peak(["list", "--json"] + extra, data_dir, workdir))
            row("stats", label, count, *peak(["stats"] + extra, data_dir, workdir))
        sink = Gunicorn(BARE_APP, base_env(os.path.join(workdir, "sink"), "redis://127.0.0.1:1/0"), workers=2)
        try:
            for count in (options.send // 10, options.send):
                state = os.path.join(workdir, f"state-{count}")
                args = [
                    "replay",
                    "--to",
                    f"{sink.url}/webhook",
                    "--concurrency",
                    "8",
                    "-q",
                    "--resume",
                    state,
                    "--limit",
                    str(count),
                ]
                row("replay --to --resume", f"--limit {count}", count, *peak(args, data_dir, workdir))
        finally:
            sink.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
