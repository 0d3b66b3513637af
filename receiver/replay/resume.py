"""The ``replay --resume`` state file: which selected captures were already delivered.

A replay walks its selection in a fixed order (day files by date, lines in
file order), so each selected capture has a position ``i``. The state file is
JSON lines: a header naming the selection, the target and the time the replay
started (relative times such as ``2h`` are resolved against it again on
resume), then one line per finished capture::

    {"replay_state": 1, "created_at": "...", "selection": {...}, "target": "POST https://..."}
    {"i": 0, "id": "01KB...", "ok": true, "result": "200"}
    {"i": 2, "id": "01KB...", "ok": false, "result": "503"}

Completion order differs from position order under concurrency, so the state
is a watermark ``W`` (every position below it has a line) plus the few
positions above it that finished early, plus the failed positions, which a
resume sends again. Memory is bounded by the failures and the in-flight
window, not by the size of the replay. Each line is written at once (so it
survives the process being killed) and fsynced in batches (``FSYNC_EVERY``
lines or ``FSYNC_SECONDS``). Only one replay may use a state file at a time.

Failure policy: a state file that cannot be opened, is locked by another
replay, belongs to another selection or target, or is corrupt raises
``ResumeError`` naming the file; so does a selection that no longer matches
the file (captures pruned or moved). A last line torn by a crash is cut off.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any

from receiver.core.jsonl import FILE_MODE, encode_line
from receiver.core.lines import complete_lines
from receiver.replay.errors import ReplayError

VERSION = 1
FSYNC_EVERY = 200
FSYNC_SECONDS = 1.0


class ResumeError(ReplayError):
    """The state file cannot be used for this replay."""


class ResumeState:
    """Track delivered positions of one replay, durably."""

    def __init__(self, path: str, fd: int, created_at: datetime) -> None:
        self.path, self.fd, self.created_at = path, fd, created_at
        self.watermark = 0
        self.above: dict[int, str] = {}  # position >= watermark -> id, finished early
        self.failed: dict[int, str] = {}  # position -> id, to send again
        self.boundary: str | None = None  # id at watermark - 1
        self.unsynced, self.synced_at = 0, time.monotonic()

    @classmethod
    def open(
        cls, path: str, selection: dict[str, Any], target: str, now: datetime, write: bool = True
    ) -> ResumeState | None:
        """Open (or, unless ``write`` is false, create) the state file for this replay."""
        header = {"replay_state": VERSION, "created_at": now.isoformat(), "selection": selection, "target": target}
        flags = (os.O_RDWR | os.O_CREAT | os.O_APPEND) if write else os.O_RDONLY
        try:
            fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
        except FileNotFoundError:
            if not write:
                return None  # a dry run with no state yet
            raise ResumeError(f"cannot create {path}: its directory does not exist") from None
        except OSError as exc:
            raise ResumeError(f"cannot open {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ResumeError(f"{path} is in use by another replay") from None
        try:
            return cls.load(path, fd, header, write)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def load(cls, path: str, fd: int, header: dict[str, Any], write: bool) -> ResumeState:
        """Read the state from the open file ``fd``, writing ``header`` into an empty one."""
        with contextlib.closing(cls.lines(path, fd, write)) as lines:
            return cls.read(path, fd, header, write, lines)

    @classmethod
    def read(cls, path: str, fd: int, header: dict[str, Any], write: bool, lines: Iterator[bytes]) -> ResumeState:
        """Build the state from the file's ``lines``; an empty file gets ``header``."""
        now = datetime.fromisoformat(header["created_at"])
        selection, target = header["selection"], header["target"]
        first = next(lines, None)
        if first is None:
            if write:
                os.write(fd, encode_line(header))
                os.fsync(fd)
            return cls(path, fd, now)
        saved = cls.parse(first, path)
        if saved.get("replay_state") != VERSION or "created_at" not in saved:
            raise ResumeError(f"{path} is not a replay state file")
        if saved.get("selection") != selection or saved.get("target") != target:
            raise ResumeError(
                f"{path} belongs to another replay (selection or target differ): "
                f"rerun with the options it was started with, or use a new state file"
            )
        state = cls(path, fd, datetime.fromisoformat(saved["created_at"]))
        for line in lines:
            entry = cls.parse(line, path)
            try:
                state.note(int(entry["i"]), str(entry["id"]), bool(entry["ok"]))
            except (KeyError, TypeError, ValueError):
                raise ResumeError(f"{path} is corrupt: {line[:80]!r}") from None
        return state

    @staticmethod
    def lines(path: str, fd: int, write: bool) -> Generator[bytes, None, None]:
        """Yield the complete lines of the file; cut off a last line torn by a crash."""
        end = 0
        with open(path, "rb") as handle:
            for start, line in complete_lines(handle):
                end = start + len(line)
                yield line
            if write and os.fstat(handle.fileno()).st_size > end:
                os.ftruncate(fd, end)

    @staticmethod
    def parse(line: bytes, path: str) -> dict[str, Any]:
        """Return one line of the state file as a dict."""
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
            return entry
        except ValueError:
            raise ResumeError(f"{path} is corrupt: {line[:80]!r}") from None

    def note(self, position: int, capture_id: str, ok: bool) -> None:
        """Apply one finished capture to the in-memory state."""
        if ok:
            self.failed.pop(position, None)
        else:
            self.failed[position] = capture_id
        if position >= self.watermark:
            self.above[position] = capture_id
            while self.watermark in self.above:
                self.boundary = self.above.pop(self.watermark)
                self.watermark += 1

    def wanted(self, position: int, capture_id: str) -> bool:
        """Say whether the capture at ``position`` still has to be sent; check it is the same one."""
        known = self.failed.get(position) or self.above.get(position)
        if position == self.watermark - 1 and known is None:
            known = self.boundary
        if known is not None and known != capture_id:
            raise ResumeError(
                f"the captures selected differ from {self.path} at position {position} "
                f"(expected {known}, found {capture_id}): were captures pruned or moved?"
            )
        if position < self.watermark:
            return position in self.failed
        return position not in self.above or position in self.failed

    def record(self, position: int, capture_id: str, ok: bool, result: str) -> None:
        """Append one finished capture and fsync every batch."""
        os.write(self.fd, encode_line({"i": position, "id": capture_id, "ok": ok, "result": result}))
        self.note(position, capture_id, ok)
        self.unsynced += 1
        if self.unsynced >= FSYNC_EVERY or time.monotonic() - self.synced_at >= FSYNC_SECONDS:
            self.sync()

    def sync(self) -> None:
        """Flush the state file to disk."""
        if self.unsynced:
            os.fsync(self.fd)
        self.unsynced, self.synced_at = 0, time.monotonic()

    def close(self) -> None:
        """Sync and close the state file (which releases its lock)."""
        try:
            self.sync()
        finally:
            os.close(self.fd)
