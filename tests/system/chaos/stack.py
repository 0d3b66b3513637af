"""The real stack a chaos run attacks: Redis with AOF, ``smartech-dumper serve``, two supervised workers."""

import os
import subprocess
import sys
import threading

import requests

from receiver.procs.stack import free_port
from receiver.procs.supervisor import Child, Supervisor
from tests.support.helpers import PASSWORD, USER, wait_until
from tests.support.procs import StoppableRedis, children, command_of

BIN = os.path.dirname(sys.executable)
WORKERS = 2
ENV = {
    "DUMPER_BASIC_AUTH": f"{USER}:{PASSWORD}",
    "DUMPER_REDIS_TIMEOUT": "0.5",
    # Short enough that a job lost with a killed worker is retried within the run's settling time.
    "DUMPER_JOB_TIMEOUT": "10s",
    "DUMPER_MAINTENANCE_INTERVAL": "5s",
    "DUMPER_RETRY_INTERVALS": "1s,2s,5s,10s,20s,30s",
    "DUMPER_LOG_LEVEL": "WARNING",
}


class Stack:
    """Start Redis, the receiver and the workers in ``workdir``; stop them all on ``close``."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "var")
        os.makedirs(os.path.join(workdir, "redis"))
        self.redis = StoppableRedis(os.path.join(workdir, "redis"))
        self.env = {**os.environ, **ENV, "DUMPER_DATA_DIR": self.data_dir, "REDIS_URL": self.redis.url}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = {name: open(os.path.join(workdir, f"{name}.log"), "ab") for name in ("serve", "workers")}
        self.serve = subprocess.Popen(
            [os.path.join(BIN, "smartech-dumper"), "serve", "--bind", f"127.0.0.1:{self.port}"],
            env=self.env,
            stdout=self.logs["serve"],
            stderr=subprocess.STDOUT,
        )
        self.workers = Supervisor(
            [
                Child(
                    f"worker-{n}",
                    [os.path.join(BIN, "smartech-dumper"), "worker"],
                    self.env,
                    output=self.logs["workers"],
                )
                for n in range(1, WORKERS + 1)
            ],
            say=lambda text: self.logs["workers"].write(f"supervisor: {text}\n".encode()),
        )
        self.workers.start()
        self.tending = threading.Thread(target=self.workers.run, daemon=True)
        self.tending.start()
        wait_until(self.answers, timeout=60)

    def answers(self):
        """Say whether the receiver answers its liveness probe."""
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def gunicorn_workers(self):
        """Return the pids of gunicorn's worker processes."""
        masters = [pid for pid in children(self.serve.pid) if "gunicorn" in command_of(pid)]
        return children(masters[0]) if masters else []

    def worker_pids(self):
        """Return the pids of the RQ worker processes that run now."""
        return [child.proc.pid for child in self.workers.children if child.alive()]

    def readiness(self):
        """Return the receiver's /readyz answer, or None."""
        try:
            return requests.get(self.url + "/readyz", timeout=5).json()
        except (requests.RequestException, ValueError):
            return None

    def close(self):
        """Stop the receiver, the workers and Redis."""
        self.serve.terminate()
        try:
            self.serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.serve.kill()
        self.workers.stopping.set()
        self.tending.join(timeout=90)
        self.redis.stop()
        for log in self.logs.values():
            log.close()
