"""Group commit: requests that arrive together share one write and one fdatasync per file.

Each request hands its encoded line to ``GroupCommit.append`` and waits. A
request that finds no flush running becomes the flusher: it takes every line
waiting at that moment, appends them per file in one locked write
(``jsonl.append_lines``), syncs each file once and wakes the others. Lines
that arrive meanwhile form the next group. Under load one sync covers many
requests, and every caller still returns only once its own bytes are on disk.

Under gevent the blocking I/O runs in gevent's native thread pool, so the
process keeps reading other requests while a sync is in flight.

Failure policy: the error of a file's append, check or sync is raised to
every caller whose line was in it; the other files of the group go ahead.
"""

import threading
from collections.abc import Callable
from typing import Any

from receiver.core import jsonl

Check = Callable[[], None]
# Runs ``function(*args)`` and returns its result, wherever blocking I/O must run.
Runner = Callable[..., Any]


class Entry:
    """One line waiting to be written, and how its write went."""

    __slots__ = ("path", "data", "check", "done", "error", "offset")
    path: str
    data: bytes
    check: Check | None
    done: bool
    error: Exception | None
    offset: int | None  # where the line starts in its file, once written

    def __init__(self, path: str, data: bytes, check: Check | None) -> None:
        self.path, self.data, self.check = path, data, check
        self.done, self.error, self.offset = False, None, None


def direct(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` here and now."""
    return function(*args)


def blocking_runner() -> Runner:
    """Return how to run blocking I/O here: gevent's thread pool under gevent, else a plain call."""
    try:
        from gevent import get_hub, monkey
    except ImportError:
        return direct
    if not monkey.is_module_patched("threading"):
        return direct
    return lambda function, *args: get_hub().threadpool.apply(function, args)


def flush(group: list[Entry], fsync: bool) -> None:
    """Append the lines of ``group`` file by file, one write and one sync each; record each outcome."""
    by_path: dict[str, list[Entry]] = {}
    for entry in group:
        by_path.setdefault(entry.path, []).append(entry)
    for path, entries in by_path.items():
        try:
            check = next((entry.check for entry in entries if entry.check is not None), None)
            offset = jsonl.append_lines(path, [entry.data for entry in entries], fsync=fsync, check=check)
            for entry in entries:
                entry.offset, offset = offset, offset + len(entry.data)
        except Exception as exc:  # each caller decides what its failure means (503, fallback, new day)
            for entry in entries:
                entry.error = exc
        finally:
            for entry in entries:
                entry.done = True


class GroupCommit:
    """Append lines for many concurrent callers with as few writes and syncs as possible."""

    def __init__(self, fsync: bool = True, runner: Runner | None = None) -> None:
        self.fsync = fsync
        # Without a sync a write only reaches the page cache: doing it in place costs less than a thread hop.
        self.run_blocking = runner or (blocking_runner() if fsync else direct)
        self.cond = threading.Condition()
        self.waiting: list[Entry] = []
        self.flushing = False
        self.groups = self.lines = 0  # how many syncs served how many lines, for the README's figures

    def append(self, path: str, data: bytes, check: Check | None = None) -> int:
        """Append ``data`` (one encoded line) to ``path``; return its offset once it is on disk."""
        entry = Entry(path, data, check)
        with self.cond:
            self.waiting.append(entry)
            while not entry.done:
                if self.flushing:
                    self.cond.wait()
                    continue
                self.lead()
        if entry.error is not None:
            raise entry.error
        assert entry.offset is not None  # flush sets an offset on every entry it does not fail
        return entry.offset

    def lead(self) -> None:
        """Flush everything waiting now, outside the lock; called with the lock held."""
        group, self.waiting, self.flushing = self.waiting, [], True
        self.cond.release()
        try:
            self.run_blocking(flush, group, self.fsync)
        except BaseException as exc:  # the pool itself failed: nobody may wait forever
            for entry in group:
                if not entry.done:
                    entry.error, entry.done = exc if isinstance(exc, Exception) else OSError(str(exc)), True
            raise
        finally:
            self.cond.acquire()
            self.flushing = False
            self.groups, self.lines = self.groups + 1, self.lines + len(group)
            self.cond.notify_all()
