"""Compress one closed day file to ``.jsonl.gz`` without losing a line a writer adds meanwhile.

Steps: copy the file into a gzip member in a temporary file (mode 0600) next
to it, after the members of an existing ``.gz`` of that day; take the
writers' ``flock`` and copy what was appended meanwhile; fsync, rename over
the ``.gz``, fsync the directory, unlink the ``.jsonl``; release the lock.
A writer that opened the file just before the unlink appends to the unlinked
file once the lock is free, so after ``SALVAGE_WAIT`` seconds the lock is
taken again and any such lines are appended to a fresh ``.jsonl`` of the day,
which every reader reads after the ``.gz``.
"""
import fcntl
import gzip
import os
import shutil
import time

from receiver.jsonl import FILE_MODE, append_lines

CHUNK = 1024 * 1024
SALVAGE_WAIT = 0.2
GZIP_LEVEL = 6


def copy_range(fd, start, sink):
    """Copy bytes of ``fd`` from ``start`` to its end into ``sink``; return the new end offset."""
    offset = start
    while True:
        chunk = os.pread(fd, CHUNK, offset)
        if not chunk:
            return offset
        sink.write(chunk)
        offset += len(chunk)


def fsync_dir(path):
    """Flush a directory entry change (rename, unlink) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compress(plain):
    """Replace ``plain`` (``.jsonl``) by ``plain + '.gz'``; return ``(gz size, late-line check)``.

    The caller must pass every returned check to ``salvage_all`` (which closes them).
    """
    target = plain + ".gz"
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
    except BaseException:
        os.close(source)
        raise
    return os.path.getsize(target), (source, copied, plain)


def salvage_all(checks, wait=SALVAGE_WAIT):
    """After one short wait, move lines late writers added to unlinked files into fresh ``.jsonl`` files."""
    if checks:
        time.sleep(wait)
    saved = 0
    for source, copied, plain in checks:
        try:
            fcntl.flock(source, fcntl.LOCK_EX)
            size = os.fstat(source).st_size
            if size > copied:
                append_lines(plain, [os.pread(source, size - copied, copied)])
                saved += 1
        finally:
            os.close(source)  # also releases the lock
    return saved
