"""Measure how long a job takes to complete after its RQ worker is SIGKILLed, with default settings.

The job is held mid-write (its events file is a FIFO with no reader), the
worker's whole process group is killed, the FIFO removed, and a new worker
started; the figure is the time from the kill to the event on disk.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from receiver.capture import record as capture  # noqa: E402
from receiver.core import ids, jsonl, layout  # noqa: E402
from receiver.core import queues as queueing  # noqa: E402
from receiver.core.settings import load  # noqa: E402
from receiver.forwarder import enqueue  # noqa: E402
from receiver.procs import redis_server  # noqa: E402

LIMIT = 300
BODY = b'data={"p":[{"webhook_name":"SMS_CLICK","guid":"recovery-1"}]}'


def started(connection):
    return connection.zcard("rq:wip:smartech")


def measure(worker_class, workdir):
    data_dir = os.path.join(workdir, f"var-{worker_class}")
    sock = os.path.join(workdir, f"{worker_class[0]}.sock")
    redis_proc = redis_server.start(workdir, unixsocket=sock)
    url = f"unix://{sock}"
    redis_server.wait_ready(url, redis_proc)
    env = {**os.environ, "REDIS_URL": url, "DUMPER_DATA_DIR": data_dir}
    for name in ("DUMPER_JOB_TIMEOUT", "DUMPER_MAINTENANCE_INTERVAL", "DUMPER_RETRY_INTERVALS"):
        env.pop(name, None)  # the defaults are what we measure
    settings = load(env)
    queue = queueing.get_queue(settings)
    delivery = capture.new_delivery(
        ids.new_id(), "default", "127.0.0.1", "POST", "/webhook", "application/x-www-form-urlencoded", "bench", BODY
    )
    enqueue.enqueue_capture(queue, capture.to_record(delivery), settings)
    fifo = layout.day_path(data_dir, layout.EVENTS, layout.day_name(delivery.received_at))
    jsonl.ensure_dir(os.path.dirname(fifo))
    os.mkfifo(fifo, 0o600)
    cmd = [os.path.join(os.path.dirname(sys.executable), "smartech-dumper"), "worker", "--worker-class", worker_class]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while not started(queue.connection):
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    os.unlink(fifo)
    killed = time.monotonic()
    second = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        while not os.path.exists(fifo) and time.monotonic() - killed < LIMIT:
            time.sleep(0.2)
        seconds = time.monotonic() - killed
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait()
        redis_proc.terminate()
        redis_proc.wait()
    return round(seconds, 1) if os.path.exists(fifo) else None


def main():
    workdir = tempfile.mkdtemp(prefix="rec-", dir="/tmp")
    results = {cls: measure(cls, workdir) for cls in ("simple", "fork")}
    for cls, seconds in results.items():
        print(f"{cls:7s} worker SIGKILLed mid-job: completed {seconds}s after the kill (default settings)")
    print(json.dumps({"worker_recovery_seconds": results}))


if __name__ == "__main__":
    main()
