"""`smartech-dumper up` runs everything, prints credentials, and Ctrl-C leaves nothing behind."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from receiver.procs.stack import free_port
from tests.support.helpers import read_kind

pytestmark = pytest.mark.slow
BIN = os.path.dirname(sys.executable)


def read_until(proc, pattern, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, "".join(seen)
    raise AssertionError("pattern not seen: " + pattern + "\n" + "".join(seen))


def running_with(text):
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if text in line and "ps -eo" not in line]


def test_up_serves_processes_and_stops_cleanly(tmp_path):
    data_dir = str(tmp_path / "var")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUMPER_") and k != "REDIS_URL"}
    env.update(DUMPER_DATA_DIR=data_dir, DUMPER_FSYNC="false", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "up", "--port", str(port), "--private-redis"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        redis_line, _ = read_until(proc, r"private redis-server at redis://127\.0\.0\.1:(\d+)/0")
        redis_port = redis_line.group(1)
        auth, _ = read_until(proc, r"basic auth: user '([^']+)' password '([^']+)'")
        user, password = auth.group(1), auth.group(2)
        assert open(os.path.join(data_dir, "up-credentials")).read().strip() == f"{user}:{password}"
        inspector, _ = read_until(proc, r"inspector:  (http://127\.0\.0\.1:(\d+))/   user '([^']+)' password '([^']+)'")
        inspector_url, inspector_auth = inspector.group(1), (inspector.group(3), inspector.group(4))
        assert inspector.group(2) == str(port + 80)
        credentials = os.path.join(data_dir, "inspect-credentials")
        assert open(credentials).read().strip() == ":".join(inspector_auth)
        assert os.stat(credentials).st_mode & 0o777 == 0o600
        assert requests.get(inspector_url + "/", timeout=10).status_code == 401
        url = f"http://127.0.0.1:{port}/webhook/"
        sent = subprocess.run(
            [os.path.join(BIN, "smartech-dumper"), "send", url, "--user", user, "--password", password],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not read_kind(data_dir, "events"):
            time.sleep(0.2)
        assert read_kind(data_dir, "events"), "the worker started by `up` wrote no events"
        listed = requests.get(inspector_url + "/api/captures", auth=inspector_auth, timeout=10).json()["captures"]
        assert listed and {row["status"] for row in listed} <= {"ok", "warnings"}  # what `send` posted
        assert running_with(f"127.0.0.1:{port}") and running_with(f"127.0.0.1:{redis_port}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    assert running_with(f"127.0.0.1:{port}") == [] and running_with(f"127.0.0.1:{port + 80}") == []
    assert running_with(f"127.0.0.1:{redis_port}") == []
    assert os.path.isdir(os.path.join(data_dir, "redis"))


def test_up_reuses_saved_credentials(tmp_path):
    from receiver.procs.stack import saved_credentials

    first = saved_credentials(str(tmp_path))
    assert first.startswith("smartech:") and len(first) > 20
    assert saved_credentials(str(tmp_path)) == first
    assert oct(os.stat(tmp_path / "up-credentials").st_mode & 0o777) == "0o600"
