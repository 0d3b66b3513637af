"""Real processes for tests: gunicorn serving the app, RQ workers, a redis-server we can stop."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

import requests

from receiver.procs import redis_server
from receiver.procs.stack import free_port
from tests.support.helpers import PASSWORD, USER

BIN = os.path.dirname(sys.executable)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def event_body(guid):
    """Return a one-event Smartech form body whose event id is ``guid``."""
    event = {"webhook_name": "SMS_CLICK", "event_params": {"guid": guid, "foreignkey": "9999999997"}}
    return urlencode({"data": json.dumps({"panel": [event]})})


def post_event(url, guid, timeout=10):
    """POST the one-event body of ``guid`` to ``url``'s /webhook with the test credentials."""
    return requests.post(url + "/webhook", data=event_body(guid), headers=FORM, auth=(USER, PASSWORD), timeout=timeout)


def wait_http(url, proc, timeout=20):
    """Wait until ``url`` answers 200, failing if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def start_serve(env, port, workers=2):
    """Start ``smartech-dumper serve`` (gunicorn and the forwarder) on 127.0.0.1:``port``; return the Popen."""
    cmd = [os.path.join(BIN, "smartech-dumper"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    return logged_popen(cmd, env)


def logged_popen(cmd, env, **options):
    """Start ``cmd`` with its output going to a temporary file (a pipe nobody reads would block it when full)."""
    log = tempfile.NamedTemporaryFile(prefix="proc-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, **options)
    log.close()
    proc.log_path = log.name
    return proc


def output_of(proc):
    """Return what a process started by ``logged_popen`` has written so far."""
    with open(proc.log_path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def children(pid):
    """Return the pids of the child processes of ``pid``."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(child) for child in out.stdout.split()]


def command_of(pid):
    """Return the command line of ``pid``, or '' once it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


RUNNING = set()  # every Web still up; stop_all() ends them when a test failed half-way


def stop_all(keep=()):
    """Stop every Web a test left running, but those in ``keep``."""
    for web in list(RUNNING - set(keep)):
        web.stop()


class Web:
    """A running receiver: ``smartech-dumper serve``, which runs gunicorn and the forwarder."""

    def __init__(self, env, workers=2):
        self.env, self.workers = env, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self):
        """Start (or restart) gunicorn and wait until it answers."""
        self.proc = start_serve(self.env, self.port, self.workers)
        RUNNING.add(self)
        wait_http(self.url + "/healthz", self.proc)

    def gunicorn_pid(self):
        """Return the pid of the gunicorn master."""
        return next(pid for pid in children(self.proc.pid) if "gunicorn" in command_of(pid))

    def forwarder_pid(self):
        """Return the pid of the forwarder process, or None."""
        return next((pid for pid in children(self.proc.pid) if " forward" in command_of(pid)), None)

    def worker_pids(self):
        """Return the pids of gunicorn's worker processes."""
        return children(self.gunicorn_pid())

    def stop(self):
        """Stop gunicorn gracefully and return its output."""
        RUNNING.discard(self)
        return stop(self.proc)


def stop(proc, sig=signal.SIGTERM, timeout=60):
    """Signal ``proc``, wait for it and return its output."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
    if hasattr(proc, "log_path"):
        out = output_of(proc)
        os.unlink(proc.log_path)
    return out or ""


def start_worker(env, burst=False, worker_class="simple"):
    """Start ``smartech-dumper worker`` in its own process group; return the Popen."""
    cmd = [os.path.join(BIN, "smartech-dumper"), "worker", "--worker-class", worker_class]
    if burst:
        cmd.append("--burst")
    return logged_popen(cmd, env, start_new_session=True)


def run_burst_worker(env):
    """Drain the queue with a burst worker; fail if it fails."""
    done = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


class StoppableRedis:
    """A private redis-server on a unix socket that keeps an append-only file, so it can be stopped and restarted."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.sock = os.path.join(workdir, "r.sock")
        self.url = f"unix://{self.sock}"
        self.proc = None
        self.start()

    def start(self):
        """Start the server (again) on the same socket and data."""
        self.proc = redis_server.start(self.workdir, unixsocket=self.sock, persist=True)
        redis_server.wait_ready(self.url, self.proc)

    def stop(self, sig=signal.SIGTERM):
        """Stop the server."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
