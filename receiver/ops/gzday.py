"""Compress one closed day file to ``.jsonl.gz`` without losing a line a writer adds meanwhile.

Steps: copy the file into a gzip member in a temporary file (mode 0600) next
to it, after the members of an existing ``.gz`` of that day; take the
writers' ``flock`` and copy what was appended meanwhile; fsync, rename over
the ``.gz``, unlink the ``.jsonl``, fsync the directory; release the lock.
A writer that opened the file before the unlink finds it unlinked once it
holds the lock, and appends to the file that has the name now (see
``receiver.core.jsonl``), which every reader reads after the ``.gz``: no sleep, no
line written into a file nobody reads.

A ``.gz`` that ``forget`` rewrote meanwhile (it holds the same lock) is seen
once the lock is held, and the copy starts again from the new one, so a blanked
line never comes back.

Failure policy: any error removes the temporary file and propagates; the
``.jsonl`` is unlinked only once the ``.gz`` that holds all of it has its name.
"""

import fcntl
import gzip
import os
import shutil

from receiver.core.jsonl import FILE_MODE
from receiver.core.statefile import fsync_dir

CHUNK = 1024 * 1024
GZIP_LEVEL = 6
REPLACED_ATTEMPTS = 3  # the .gz replaced by `forget` while it was copied: start again, this many times at most


def copy_range(fd: int, start: int, sink: gzip.GzipFile) -> int:
    """Copy bytes of ``fd`` from ``start`` to its end into ``sink``; return the new end offset."""
    offset = start
    while True:
        chunk = os.pread(fd, CHUNK, offset)
        if not chunk:
            return offset
        sink.write(chunk)
        offset += len(chunk)


def signature(path: str) -> tuple[int, int, int] | None:
    """Return what tells that a file was replaced or changed: inode, size, modification time; None if missing."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def compress(plain: str, attempts: int = REPLACED_ATTEMPTS) -> int:
    """Replace ``plain`` (``.jsonl``) by ``plain + '.gz'``; return the size of the ``.gz``."""
    target = plain + ".gz"
    earlier_signature = signature(target)
    folder, name = os.path.split(plain)
    temp = os.path.join(folder, f".{name}.gz.{os.getpid()}.tmp")
    source = os.open(plain, os.O_RDONLY | os.O_CLOEXEC)
    try:
        out_fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            with os.fdopen(out_fd, "wb") as out:
                if os.path.exists(target):
                    with open(target, "rb") as earlier:
                        shutil.copyfileobj(earlier, out, CHUNK)
                member = gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=GZIP_LEVEL, mtime=0)
                copied = copy_range(source, 0, member)
                fcntl.flock(source, fcntl.LOCK_EX)
                try:
                    if signature(target) != earlier_signature:  # `forget` rewrote the .gz: copy the new one
                        if attempts <= 1:
                            raise OSError(f"{target}: replaced while it was being compressed into; try again")
                        os.unlink(temp)
                        fcntl.flock(source, fcntl.LOCK_UN)
                        return compress(plain, attempts - 1)
                    copied = copy_range(source, copied, member)
                    member.close()
                    out.flush()
                    os.fsync(out.fileno())
                    os.rename(temp, target)
                    os.unlink(plain)
                    fsync_dir(folder)
                finally:
                    fcntl.flock(source, fcntl.LOCK_UN)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
    finally:
        os.close(source)
    return os.path.getsize(target)
