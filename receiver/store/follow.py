"""Follow the live files of one kind as they grow, across the midnight change of file.

The receiver starts a new file each UTC day, and a request that began just
before midnight may still append to yesterday's file after today's exists.
So the follower watches the newest day file and the one before it, remembers
an offset per file, and reads only complete lines (``receiver.core.lines``: a line
still being written is read on a later poll). A file replaced under the same
name starts over. Failure policy: a watched file that vanished is forgotten;
unreadable lines go to the ``Reader``'s count and warnings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date, timedelta

from receiver.core.layout import CAPTURES
from receiver.core.lines import complete_lines
from receiver.store.files import Reader, Record, day_files

POLL_SECONDS = 0.5
WATCHED_DAYS = 2


class Follower:
    """Yield records appended to the newest ``kind`` files since the last poll."""

    def __init__(self, data_dir: str, reader: Reader, kind: str = CAPTURES) -> None:
        self.data_dir = data_dir
        self.reader = reader
        self.kind = kind
        self.positions: dict[str, tuple[int, int, int]] = {}  # path -> (inode, offset, line number)

    def watched(self) -> list[str]:
        """Return the uncompressed files of the newest ``WATCHED_DAYS`` days, oldest first."""
        files = day_files(self.data_dir, self.kind, gzipped=False)
        if not files:
            return []
        newest = date.fromisoformat(files[-1].day)
        floor = (newest - timedelta(days=WATCHED_DAYS - 1)).isoformat()
        return [item.path for item in files if item.day >= floor]

    def older(self) -> list[str]:
        """Return the files (gzipped too) older than the watched ones, newest first."""
        watched = set(self.watched())
        return [item.path for item in reversed(day_files(self.data_dir, self.kind)) if item.path not in watched]

    def poll(self) -> Iterator[Record]:
        """Yield the records completed since the previous poll, file by file in day order."""
        paths = self.watched()
        for gone in set(self.positions) - set(paths):
            del self.positions[gone]
        for path in paths:
            yield from self.read_new(path)

    def read_new(self, path: str) -> Iterator[Record]:
        """Yield the complete new lines of one file and remember how far they went."""
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            self.positions.pop(path, None)
            return
        with handle:
            inode = os.fstat(handle.fileno()).st_ino
            known, offset, number = self.positions.get(path, (inode, 0, 0))
            if known != inode:
                offset, number = 0, 0
            for start, line in complete_lines(handle, offset):
                offset, number = start + len(line), number + 1
                self.positions[path] = (inode, offset, number)
                if line.strip():
                    record = self.reader.parse(line, path, number)
                    if record is not None:
                        yield record
            self.positions[path] = (inode, offset, number)

    def follow(self, interval: float = POLL_SECONDS) -> Iterator[Record]:
        """Yield new records forever, polling every ``interval`` seconds."""
        while True:
            yield from self.poll()
            time.sleep(interval)
