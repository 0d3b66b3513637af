"""What a capture costs the forwarder: hand 20,000 captures from disk to a private Redis, timed.

    python -m bench.forwarder_cost [--count 20000]

Prints wall time and CPU time per capture, for the forwarder's process and for redis-server.
"""

import argparse
import os
import time

from bench import synthetic
from bench.procs import Redis, base_env, scratch_dir
from receiver.core.settings import load
from receiver.forwarder.loop import Forwarder

COUNT = 20_000
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """Return the user + system CPU seconds process ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run(workdir, count=COUNT):
    """Forward ``count`` captures once; return the figures."""
    redis = Redis(os.path.join(workdir, "redis"))
    try:
        data_dir = os.path.join(workdir, "data")
        synthetic.write(data_dir, count, days=1, end=None)
        env = base_env(data_dir, redis.url)
        forwarder = Forwarder(load(environ=env))
        redis_before, began, cpu_began = cpu_seconds(redis.proc.pid), time.perf_counter(), time.process_time()
        handed = forwarder.drain()
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        redis_cpu = cpu_seconds(redis.proc.pid) - redis_before
    finally:
        redis.stop()
    result = {
        "captures": handed,
        "captures_per_s": round(handed / wall),
        "wall_us_per_capture": round(wall / handed * 1e6, 1),
        "forwarder_cpu_us_per_capture": round(cpu / handed * 1e6, 1),
        "redis_cpu_us_per_capture": round(redis_cpu / handed * 1e6, 1),
    }
    print(
        f"[forwarder] {handed:,} captures in {wall:.2f}s ({result['captures_per_s']:,}/s): "
        f"{result['wall_us_per_capture']} µs wall, {result['forwarder_cpu_us_per_capture']} µs forwarder CPU, "
        f"{result['redis_cpu_us_per_capture']} µs redis-server CPU per capture",
        flush=True,
    )
    return result


def main():
    """Run it alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=COUNT)
    options = parser.parse_args()
    with scratch_dir("forwarder-") as workdir:
        run(workdir, options.count)


if __name__ == "__main__":
    main()
