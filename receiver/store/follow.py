"""Follow the live captures files as they grow, across the midnight change of file.

The receiver starts a new file each UTC day, and a request that began just
before midnight may still append to yesterday's file after today's exists.
So the follower watches the newest day file and the one before it, remembers
an offset per file, and reads only complete lines (a line still being written
is read on a later poll). A file replaced under the same name starts over.
"""
import os
import time
from datetime import date, timedelta

from .files import day_files

POLL_SECONDS = 0.5
WATCHED_DAYS = 2
NEWLINE = b"\n"


class Follower:
    """Yield records appended to the newest ``kind`` files since the last poll."""

    def __init__(self, data_dir, reader, kind="captures"):
        self.data_dir = data_dir
        self.reader = reader
        self.kind = kind
        self.positions = {}  # path -> (inode, offset, line number)

    def watched(self):
        """Return the uncompressed files of the newest ``WATCHED_DAYS`` days, oldest first."""
        files = day_files(self.data_dir, self.kind, gzipped=False)
        if not files:
            return []
        newest = date.fromisoformat(files[-1].day)
        floor = (newest - timedelta(days=WATCHED_DAYS - 1)).isoformat()
        return [item.path for item in files if item.day >= floor]

    def older(self):
        """Return the files (gzipped too) older than the watched ones, newest first."""
        watched = set(self.watched())
        return [item.path for item in reversed(day_files(self.data_dir, self.kind)) if item.path not in watched]

    def poll(self):
        """Yield the records completed since the previous poll, file by file in day order."""
        paths = self.watched()
        for gone in set(self.positions) - set(paths):
            del self.positions[gone]
        for path in paths:
            yield from self.read_new(path)

    def read_new(self, path):
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
            handle.seek(offset)
            for line in handle:
                if not line.endswith(NEWLINE):
                    break  # still being written
                offset, number = offset + len(line), number + 1
                self.positions[path] = (inode, offset, number)
                if line.strip():
                    record = self.reader.parse(line, path, number)
                    if record is not None:
                        yield record
            self.positions[path] = (inode, offset, number)

    def follow(self, interval=POLL_SECONDS):
        """Yield new records forever, polling every ``interval`` seconds."""
        while True:
            yield from self.poll()
            time.sleep(interval)
