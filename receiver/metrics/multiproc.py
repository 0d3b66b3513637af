"""Keep the web workers' counters in ``DUMPER_METRICS_DIR`` (prometheus_client's multiprocess mode).

prometheus_client decides at its first import whether values live in files
(``PROMETHEUS_MULTIPROC_DIR`` set) or in memory, so ``prepare`` must run in
gunicorn's master before anything imports it; this module therefore imports
prometheus_client only inside its functions. ``clear`` removes the last run's
files once, when ``serve`` starts gunicorn (its ``on_starting`` hook), as the
prometheus_client docs ask, but only when no other ``serve`` holds the
directory (``claim``: an flock on ``serve.lock`` for the master's lifetime):
a second ``serve`` on the same directory warns and keeps the first one's
files, and ``/metrics`` sums both. ``process_dead`` runs in ``child_exit``.

Failure policy: every failure is logged and never raised. Without a usable
directory the counters stay in each worker's memory (and /metrics shows no
acks): metrics never stop the receiver from starting or answering.
"""

import fcntl
import glob
import logging
import os

from receiver.core import jsonl
from receiver.core.settings import Settings

log = logging.getLogger("receiver.metrics")
ENV = "PROMETHEUS_MULTIPROC_DIR"
CLAIM_FILE = "serve.lock"
_claims: list[int] = []  # the descriptor holding this master's claim, open for its lifetime


def prepare(settings: Settings) -> str | None:
    """Create the metrics directory (0700) and point prometheus_client at it; return it, or None if unusable."""
    try:
        path = jsonl.ensure_dir(os.path.abspath(settings.metrics_dir))
    except (OSError, ValueError) as exc:
        log.warning("metrics: DUMPER_METRICS_DIR %s unusable, acks are not counted: %s", settings.metrics_dir, exc)
        os.environ.pop(ENV, None)
        return None
    os.environ[ENV] = path
    return path


def claim(path: str) -> bool:
    """Hold ``path`` for this ``serve``; return False when another live ``serve`` holds it."""
    try:
        fd = os.open(os.path.join(path, CLAIM_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, jsonl.FILE_MODE)
    except OSError as exc:
        log.warning("metrics: cannot claim DUMPER_METRICS_DIR %s: %s", path, exc)
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _claims.append(fd)
    return True


def clear(path: str | None) -> None:
    """Remove the counter files a previous run left in ``path``: their processes are gone."""
    if not path:
        return
    for name in glob.glob(os.path.join(path, "*.db")):
        try:
            os.remove(name)
        except OSError as exc:
            log.warning("metrics: cannot remove stale %s: %s", name, exc)


def process_dead(pid: int) -> None:
    """Tell prometheus_client that web worker ``pid`` exited (its live gauges go; its counters stay summed)."""
    path = os.environ.get(ENV)
    if not path:
        return
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, path)
    except Exception as exc:  # bookkeeping only: a failure must not disturb gunicorn's master
        log.warning("metrics: cannot mark worker %d dead: %s", pid, exc)


def secure_own_files(pid: int) -> None:
    """Make this process's counter files 0600, as every data file is: prometheus_client creates them 0644."""
    path = os.environ.get(ENV)
    if not path:
        return
    for name in glob.glob(os.path.join(path, f"*_{pid}.db")):
        try:
            os.chmod(name, jsonl.FILE_MODE)
        except OSError as exc:
            log.warning("metrics: cannot restrict %s: %s", name, exc)
