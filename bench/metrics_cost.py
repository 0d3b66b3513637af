"""What /metrics costs an ack: the time ``counters.observed`` adds to the webhook view, in µs per answer.

Run: ``.venv/bin/python -m bench.metrics_cost``. It measures in a fresh process
whose counters live in files of a temporary ``PROMETHEUS_MULTIPROC_DIR``, as
under gunicorn: the bare view against the wrapped one, and ``record`` alone.
A view that returns a ready answer at once, so the difference is the whole cost.
"""

import os
import subprocess
import sys
import tempfile
import time

CALLS = 200_000
ROUNDS = 5

CHILD = """
import statistics, sys, time
from flask import Response
from receiver.metrics import counters
from prometheus_client import values
assert values.ValueClass is not values.MutexValue, "not in multiprocess mode"
calls, rounds = int(sys.argv[1]), int(sys.argv[2])
ready = Response("{}", 200)
def view():
    return ready
wrapped = counters.observed(view)
def per_call(function):
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6
def record():
    counters.record(200, 0.0012)
wrapped()  # the files exist before timing
results = {"bare": [], "wrapped": [], "record": []}
for _ in range(rounds):
    results["bare"].append(per_call(view))
    results["wrapped"].append(per_call(wrapped))
    results["record"].append(per_call(record))
for name, times in results.items():
    print(name, statistics.median(times))
"""


def main() -> None:
    """Print the µs an ack spends in the metrics, median of ``ROUNDS`` rounds of ``CALLS`` calls."""
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(CALLS), str(ROUNDS)], env=env, capture_output=True, text=True, check=True
        )
    figures = dict(line.split() for line in done.stdout.splitlines())
    bare, wrapped, record = (float(figures[name]) for name in ("bare", "wrapped", "record"))
    print(f"view alone:                 {bare:7.2f} µs")
    print(f"view with counters.observed:{wrapped:7.2f} µs")
    print(f"added per ack:              {wrapped - bare:7.2f} µs  (record alone: {record:.2f} µs)")
    print(f"(multiprocess mode, median of {ROUNDS} rounds of {CALLS} calls, {time.strftime('%Y-%m-%d')})")


if __name__ == "__main__":
    main()
