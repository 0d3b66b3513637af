"""Read complete lines only: a line still being written (no newline yet) is left for a later read."""

import gzip
from collections.abc import Iterator
from typing import IO

NEWLINE = b"\n"


def read_complete(path: str, offset: int, max_bytes: int) -> bytes:
    """Return the complete lines from ``offset``: about ``max_bytes``, more if one line is longer."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return b""
    with handle:
        handle.seek(offset)
        data = handle.read(max_bytes)
        end = data.rfind(NEWLINE) + 1
        while end == 0 and len(data) >= max_bytes:
            more = handle.read(max_bytes)
            if not more:
                break
            data += more
            end = data.rfind(NEWLINE) + 1
        return data[:end]


def complete_lines(handle: IO[bytes] | gzip.GzipFile, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` for each complete line of binary ``handle`` from ``offset``; stop at a partial one."""
    handle.seek(offset)
    for line in handle:
        if not line.endswith(NEWLINE):
            return  # still being written, or torn: the caller decides
        yield offset, line
        offset += len(line)
