"""Keep child processes running: restart any that dies, with back-off; stop them all in order.

Used by ``serve`` (gunicorn and the forwarder), ``up`` (Redis, worker, serve,
inspector) and a ``worker`` (its delivery lane). A child that dies is started again after ``backoff`` seconds, which
doubles on each quick death up to ``MAX_BACKOFF`` and starts over once a
child has run for ``STABLE_AFTER`` seconds; no child's death ever stops the
others. Children run in sessions of their own, so a terminal's Ctrl-C reaches
only the supervisor, which then stops them in reverse start order (each
child's stop signal, SIGTERM by default, then SIGKILL after ``STOP_TIMEOUT``). On Linux each child also gets SIGTERM
if the supervisor itself dies, so none is left behind.
"""

import ctypes
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0
STOP_TIMEOUT = 35.0
POLL_INTERVAL = 0.2
PR_SET_PDEATHSIG = 1

try:  # looked up now: the function that runs between fork and exec must not import or load anything
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _prctl = None


def die_with_parent() -> None:
    """Ask the kernel to send this (child) process SIGTERM when its parent dies."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """One supervised process: how to start it, and its restart state."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        on_start: Callable[["Child"], Any] | None = None,
        output: int | IO[Any] | None = None,
    ) -> None:
        self.name, self.argv, self.env, self.stop_signal = name, argv, env, stop_signal
        self.output = output  # where its stdout and stderr go: ours by default, or DEVNULL, or a file
        self.on_start = on_start  # called with the child after each start, e.g. to wait until it is ready
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.backoff = FIRST_BACKOFF
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        """Start the process (again)."""
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self.output,
            stderr=self.output,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.started_at, self.restart_at = time.monotonic(), None
        if self.on_start is not None:
            self.on_start(self)

    def alive(self) -> bool:
        """Say whether the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def send(self, signum: int) -> None:
        """Send ``signum`` to the process, if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, say: Callable[[str], Any]) -> None:
        """Stop the process: its stop signal, then SIGKILL after ``STOP_TIMEOUT``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop in {STOP_TIMEOUT:.0f}s; killing it")
            self.proc.kill()
            self.proc.wait()


class Supervisor:
    """Start children, restart the ones that die, and stop them all on request."""

    def __init__(self, children: Iterable[Child], say: Callable[[str], Any] = print) -> None:
        self.children = list(children)
        self.say = say
        self.stopping = threading.Event()

    def handle_signals(self, reload_child: Child | None = None) -> None:
        """Stop on SIGINT and SIGTERM; pass SIGHUP on to ``reload_child`` (gunicorn reloads its workers)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())
        if reload_child is not None:
            signal.signal(signal.SIGHUP, lambda *_: reload_child.send(signal.SIGHUP))

    def start(self) -> None:
        """Start every child, in order."""
        for child in self.children:
            child.start()

    def tend(self, now: float | None = None) -> None:
        """Schedule a restart for each child that died, and restart those whose back-off is over."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.alive() or self.stopping.is_set():
                continue
            if child.restart_at is None:
                if now - child.started_at >= STABLE_AFTER:
                    child.backoff = FIRST_BACKOFF
                child.restart_at = now + child.backoff
                status = child.proc.returncode if child.proc is not None else None
                self.say(f"{child.name} exited with status {status}; restarting it in {child.backoff:.0f}s")
                child.backoff = min(child.backoff * 2, MAX_BACKOFF)
            elif now >= child.restart_at:
                child.restarts += 1
                try:
                    child.start()
                except (OSError, RuntimeError) as exc:  # e.g. the binary is gone; try again later
                    self.say(f"cannot restart {child.name}: {exc}")
                    child.started_at, child.restart_at = now, None

    def run(self) -> int:
        """Tend the children until asked to stop, then stop them; return 0."""
        try:
            while not self.stopping.wait(POLL_INTERVAL):
                self.tend()
        finally:
            self.stop()
        return 0

    def stop(self) -> None:
        """Stop children in reverse start order: their stop signal, then SIGKILL after a grace period."""
        self.stopping.set()
        for child in reversed(self.children):
            child.stop(self.say)
