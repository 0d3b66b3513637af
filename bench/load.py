"""Drive a server with wrk and post.lua: one realistic ~2 KB Smartech batch, basic auth, fixed concurrency."""

import base64
import json
import os
import shutil
import subprocess

from bench.procs import PASSWORD, USER
from receiver.replay import samples

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "post.lua")
# Four events of three channels: 2.3 KB once form-encoded, like a small Smartech batch.
BATCH = tuple(samples.channel_event(name) for name in ("EMAIL_CLICK", "SMS_DELIVERED", "APN_VIEW", "EMAIL_OPEN"))
MARK = "BENCH_JSON "


def ensure_wrk():
    """Return the wrk binary, installing the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


def write_body(path):
    """Write the bench's request body to ``path``; return its size in bytes."""
    body = samples.encode_body(samples.payload(BATCH))
    with open(path, "wb") as out:
        out.write(body)
    return len(body)


def auth_header(user=USER, password=PASSWORD):
    """Return the Basic Authorization value for the bench's credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def run_wrk(url, body_file, seconds, connections, threads=1, path="/webhook", ids_file=None):
    """Load ``url`` for ``seconds``; return post.lua's counts plus requests/s and latencies in ms.

    With ``ids_file``, the capture id of every 200 (read from our JSON answer) is written there.
    """
    env = dict(os.environ, BENCH_BODY_FILE=body_file, BENCH_AUTH=auth_header(), BENCH_PATH=path)
    if ids_file:
        env["BENCH_IDS_FILE"] = ids_file
    cmd = [
        ensure_wrk(),
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        LUA,
        url,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith(MARK))
    result = json.loads(line[len(MARK) :])
    result["rps"] = result["ok"] / (result["duration_us"] / 1e6)
    result.update({name: value / 1000 for name, value in result.pop("latency_us").items()})  # p50, p99... in ms
    result["in_flight"] = result["sent"] - result["ok"] - result["other"]
    return result
