"""Read a day file's records newest first, for listings that page back from the latest capture.

A plain ``.jsonl`` is read from its end in blocks, so the first page of a
day of a million captures costs a block, not the day. A ``.jsonl.gz``
cannot be read backwards: it is decompressed once into the spill cache
outside the data dir (``spill.py``: shared by every reader of the day,
capped in size), then read like a plain file; memory stays bounded, and
nothing is ever written under the data dir.
Failure policy: as ``Reader.records`` (bad lines skipped and counted; a file
that cannot be read or decompressed raises ``DataFileError``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO

from receiver.core.lines import NEWLINE
from receiver.store.files import GZIP, GZIP_ERRORS, DataFileError, Reader, Record
from receiver.store.spill import spilled

BLOCK = 64 * 1024


def lines_backwards(handle: IO[bytes], block: int = BLOCK) -> Iterator[bytes]:
    """Yield the lines of seekable ``handle`` from last to first, without their newlines (blank ones too)."""
    for _, line in placed_lines_backwards(handle, block):
        yield line


def placed_lines_backwards(
    handle: IO[bytes], block: int = BLOCK, end: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for the lines of ``handle`` that start before ``end``, last to first.

    ``offset`` is where the line starts, so a reader can come back to it later; ``end`` (default: the
    end of the file) must be the start of a line.
    """
    position = handle.seek(0, os.SEEK_END) if end is None else end
    pending = b""
    while position > 0:
        start = max(0, position - block)
        handle.seek(start)
        pending = handle.read(position - start) + pending
        position = start
        first, *complete = pending.split(NEWLINE)
        offsets, offset = [], position + len(first) + 1
        for line in complete:
            offsets.append(offset)
            offset += len(line) + 1
        yield from reversed(list(zip(offsets, complete)))
        pending = first  # may begin in an earlier block
    yield 0, pending


@contextlib.contextmanager
def seekable(path: str) -> Iterator[IO[bytes]]:
    """Yield ``path`` opened for reading bytes at any offset, a ``.gz`` decompressed outside the data dir."""
    try:
        if not path.endswith(GZIP):
            with open(path, "rb") as handle:
                yield handle
            return
        with spilled(path) as handle:
            yield handle
    except GZIP_ERRORS as exc:
        raise DataFileError(f"cannot read {path}: {exc}") from None
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def records_backwards(reader: Reader, path: str) -> Iterator[Record]:
    """Yield the records of one file from its last line to its first ."""
    with seekable(path) as handle:
        for number, line in enumerate(lines_backwards(handle)):
            if line.strip():
                record = reader.parse(line, path, f"{number} from the end")
                if record is not None:
                    yield record
