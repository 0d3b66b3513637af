"""Start and stop the processes the benches drive: private redis-servers and gunicorn; read their RSS."""

import os
import signal
import subprocess
import sys
import tempfile
import time

import requests

from receiver.procs import redis_server
from receiver.procs.stack import free_port

BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "bench", "results")


def scratch_dir(prefix):
    """Return a temporary directory under bench/results (gitignored) that removes itself on exit."""
    os.makedirs(RESULTS, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=RESULTS)


OUR_APP = "receiver.web:create_app()"
BARE_APP = "bench.bare_app:app"
USER, PASSWORD = "smartech", "bench-secret"


class Redis:
    """A private redis-server on a unix socket under ``workdir`` (never the system one)."""

    def __init__(self, workdir):
        os.makedirs(workdir, exist_ok=True)
        self.sock = os.path.join(workdir, "redis.sock")
        self.url = f"unix://{self.sock}"
        self.proc = redis_server.start(workdir, unixsocket=self.sock)
        redis_server.wait_ready(self.url, self.proc)

    def stop(self):
        """Kill the server (as a crash would) and wait for it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def base_env(data_dir, redis_url, **extra):
    """Return the environment of our processes: private data dir and Redis, quiet logs."""
    env = dict(
        os.environ,
        DUMPER_DATA_DIR=data_dir,
        REDIS_URL=redis_url,
        DUMPER_BASIC_AUTH=f"{USER}:{PASSWORD}",
        DUMPER_LOG_LEVEL="WARNING",
        PYTHONPATH=ROOT,
    )
    env.update({name: str(value) for name, value in extra.items()})
    return env


class Gunicorn:
    """gunicorn with our config file serving ``app`` under the given worker class, workers and threads."""

    def __init__(self, app, env, worker_class="gevent", workers=4, threads=1, log_path=os.devnull):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # sync with --threads > 1 would silently become gthread: pass 1 for sync.
        threads = 1 if worker_class == "sync" else threads
        cmd = [
            os.path.join(BIN, "gunicorn"),
            "--config",
            "python:receiver.web.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--worker-class",
            worker_class,
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            app,
        ]
        env = dict(env, WEB_CONCURRENCY=str(workers))
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.workers = workers
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout=30):
        """Wait until every worker is up and /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok and len(self.worker_pids()) == self.workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.url} did not answer")

    def worker_pids(self):
        """Return the pids of gunicorn's worker processes."""
        return children(self.proc.pid)

    def worker_rss_mb(self):
        """Return the resident memory of each worker, in MB."""
        return [rss_mb(pid) for pid in self.worker_pids()]

    def stop(self):
        """Stop gunicorn gracefully (again: a no-op)."""
        stop(self.proc)
        self.log.close()


def children(pid):
    """Return the pids whose parent is ``pid``."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(name))
    return sorted(found)


def rss_mb(pid):
    """Return VmRSS of ``pid`` in MB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop(proc, timeout=30):
    """SIGTERM ``proc`` and wait; SIGKILL it if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
