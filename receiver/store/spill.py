"""Decompress a ``.jsonl.gz`` day once, outside the data dir, for the readers that must seek in it (newest first).

A gzip stream cannot be read backwards, so a listing that pages back from
the end of a compressed day needs it decompressed. That copy never goes
under the data dir (the receiver needs that disk for captures, and the data
dir may be read-only for the inspector): it goes to a cache directory under
the system's temporary directory (``$TMPDIR``, default ``/tmp``),
``smartech-dumper-spill-<uid>``, created 0700 and refused when another user
owns it. One file per compressed day, named by the day file's path, inode,
size and modification time, is shared by every reader of that day, across
processes (a lock file per entry), so eight concurrent requests on one day
cost one copy, not eight. The cache holds at most ``MAX_SPILL_BYTES`` in all
(finished entries and copies being written): the least recently used
entries are removed to make room, entries unused for ``KEEP_SECONDS`` go on
the next spill, and a day that decompresses to more than the cap alone is
refused. A removed entry stays readable by whoever has it open.

Failure policy: a day that cannot be decompressed, is over the cap, or a
cache directory that cannot be used raises ``DataFileError`` naming it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from typing import IO

from receiver.store.files import GZIP_ERRORS, DataFileError

MAX_SPILL_BYTES = 4 * 1024**3  # decompressed days kept at once, in all
KEEP_SECONDS = 3600  # an entry nobody opened for this long is removed on the next spill
LOCK_WAIT_SECONDS = 120.0  # how long a reader waits for another one decompressing the same day
LOCK_POLL_SECONDS = 0.05  # a sleep, not a blocking flock: under gevent that would stall every greenlet
CHUNK = 1024 * 1024
ROOM_STEP = 64 * CHUNK  # the cap is checked each time a copy grows by this much (so it may pass it by less)
PREFIX = "smartech-dumper-spill-"
PART, LOCK = ".part", ".lock"


def cache_dir() -> str:
    """Return the cache directory (created 0700); raise ``DataFileError`` when it is not ours alone."""
    path = os.path.join(tempfile.gettempdir(), f"{PREFIX}{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise DataFileError(f"cannot use the spill directory {path}: {exc.strerror or exc}") from None
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise DataFileError(f"the spill directory {path} must be a directory of this user alone (0700)")
    return path


def entry_name(path: str) -> str:
    """Return the cache file name of a ``.gz`` day: a new one whenever the day file changes."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    key = f"{os.path.realpath(path)}\0{info.st_ino}\0{info.st_size}\0{info.st_mtime_ns}"
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]


@contextlib.contextmanager
def locked(lock_path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path``, polling for it so that a greenlet never blocks its process."""
    with open(lock_path, "a", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DataFileError(f"waited {LOCK_WAIT_SECONDS:.0f}s for {lock_path}") from None
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def entries(folder: str, keep: str) -> list[tuple[float, int, str]]:
    """Return ``(mtime, size, path)`` of the cache's data files but ``keep``, oldest first."""
    found = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name.endswith(LOCK) or path == keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            info = os.stat(path)
            found.append((info.st_mtime, info.st_size, path))
    return sorted(found)


def make_room(folder: str, keep: str, needed: int, day: str, cap: int) -> None:
    """Remove stale entries, then the least recently used, until ``needed`` more bytes fit under ``cap``."""
    now, used = time.time(), 0
    others = []
    for mtime, size, path in entries(folder, keep):
        if now - mtime > KEEP_SECONDS:  # a copy being written is fresh: this is one a crash left
            remove(path)
        else:
            others.append((mtime, size, path))
            used += size
    for _, size, path in others:
        if used + needed <= cap:
            return
        if PART not in os.path.basename(path):  # a copy another reader is writing is not ours to remove
            remove(path)
            used -= size
    if used + needed > cap:
        raise DataFileError(f"{day} decompresses to more than the {cap:,} bytes the spill may hold")


def remove(path: str) -> None:
    """Remove a cache file (its readers keep it until they close it)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + LOCK)


def decompress(day: str, target: str, folder: str, cap: int) -> None:
    """Decompress ``day`` into ``target`` through a ``.part`` file, within the cap."""
    part = f"{target}{PART}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with gzip.open(day, "rb") as packed, open(part, "wb", opener=lambda p, f: os.open(p, f, 0o600)) as out:
            written, checked = 0, 0
            while chunk := packed.read(CHUNK):
                written += len(chunk)
                if written - checked >= ROOM_STEP:  # look at the cache once per ROOM_STEP, not per chunk
                    make_room(folder, part, written, day, cap)
                    checked = written
                out.write(chunk)
            make_room(folder, part, written, day, cap)
        os.replace(part, target)
    except BaseException:
        remove(part)
        raise


@contextlib.contextmanager
def spilled(day: str, cap: int = MAX_SPILL_BYTES) -> Iterator[IO[bytes]]:
    """Yield the decompressed bytes of the ``.gz`` file ``day``, opened for reading at any offset."""
    folder = cache_dir()
    target = os.path.join(folder, entry_name(day))
    try:
        handle = open(target, "rb")
    except FileNotFoundError:
        try:
            with locked(target + LOCK):
                if not os.path.exists(target):
                    decompress(day, target, folder, cap)
                handle = open(target, "rb")
        except GZIP_ERRORS as exc:
            raise DataFileError(f"cannot read {day}: {exc}") from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DataFileError(f"no space left in {folder} to decompress {day}") from None
            raise DataFileError(f"cannot decompress {day} into {folder}: {exc.strerror or exc}") from None
    with handle:
        with contextlib.suppress(OSError):
            os.utime(target)  # recently used: the last to be removed to make room
        yield handle
