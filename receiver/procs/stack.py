"""The local stack ``up`` runs: a private Redis child, generated credentials, a free port, waiting until healthy.

Failure policy: ``wait_healthy`` raises ``StartError`` (naming the child that
exited or the URL that never answered); file and socket errors propagate.
"""

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterable

import requests

from receiver.core import jsonl, layout
from receiver.procs import redis_server
from receiver.procs.supervisor import Child

DEFAULT_USER = "smartech"
INSPECT_USER = "inspect"
READY_TIMEOUT = 20.0
POLL_INTERVAL = 0.2


class StartError(RuntimeError):
    """A child exited during start-up, or the receiver never answered."""


def saved_credentials(data_dir: str, name: str = layout.UP_CREDENTIALS, user: str = DEFAULT_USER) -> str:
    """Return ``user:password`` kept in the data dir file ``name``, making and saving one (0600) on first use."""
    path = os.path.join(jsonl.ensure_dir(data_dir), name)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        pair = f"{user}:{secrets.token_urlsafe(18)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, jsonl.FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(pair + "\n")
        return pair


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_child(data_dir: str) -> tuple[Child, str]:
    """Return the child that runs a redis-server keeping its data under the data dir, and its URL."""
    workdir = os.path.abspath(jsonl.ensure_dir(os.path.join(data_dir, layout.REDIS_DIR)))
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def ready(child: Child) -> None:
        if child.proc is not None:
            redis_server.wait_ready(url, child.proc)

    child = Child(
        "redis",
        redis_server.command(workdir, port=port, persist=True),
        on_start=ready,
        output=subprocess.DEVNULL,
    )
    return child, url


def wait_healthy(url: str, children: Iterable[Child]) -> None:
    """Wait until ``url`` answers 200; raise ``StartError`` if a child exits first or it never does."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        dead = [child.name for child in children if not child.alive()]
        if dead:
            raise StartError(f"{', '.join(dead)} exited during start-up (see its log above)")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(POLL_INTERVAL)
    raise StartError(f"the receiver did not answer {url} within {READY_TIMEOUT:.0f}s")
