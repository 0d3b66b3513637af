"""What the disk's sync costs: ``fdatasync`` after each 2.4 KB append, as the receiver does per group commit.

    python -m bench.disk_sync [--count 2000]

Prints p50 and p99 in ms. It is the floor under an ack with ``DUMPER_FSYNC=true``: when it is a small
part of an ack's time, the disk is not what limits the receiver.
"""

import argparse
import os
import statistics
import time

from bench.procs import scratch_dir

COUNT = 2000
APPEND_BYTES = 2400


def run(workdir, count=COUNT):
    """Append and sync ``count`` times in ``workdir``; return p50 and p99 in ms."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "sync.jsonl")
    line = b"x" * (APPEND_BYTES - 1) + b"\n"
    took = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(count):
            os.write(fd, line)
            began = time.perf_counter()
            os.fdatasync(fd)
            took.append((time.perf_counter() - began) * 1000)
    finally:
        os.close(fd)
    cuts = statistics.quantiles(took, n=100)
    result = {"appends": count, "bytes": APPEND_BYTES, "p50_ms": round(cuts[49], 3), "p99_ms": round(cuts[98], 3)}
    print(f"[disk] fdatasync after a {APPEND_BYTES} B append: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    return result


def main():
    """Run it alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=COUNT)
    options = parser.parse_args()
    with scratch_dir("disk-sync-") as workdir:
        run(workdir, options.count)


if __name__ == "__main__":
    main()
