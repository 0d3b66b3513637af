"""Find the daily data files and stream their records, gzipped or not.

A day is named by its file: ``KIND/YYYY-MM-DD.jsonl`` and, once compressed,
``KIND/YYYY-MM-DD.jsonl.gz``. When both exist for a day (a worker wrote to a
day after it was compressed), the ``.gz`` is read first, then the ``.jsonl``.
Records are read one line at a time, so memory does not grow with the files.
A line that is not a JSON object is skipped and counted, with a warning on
stderr; a file that cannot be opened or decompressed raises ``DataFileError``.
"""
import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass

from scripts.view.output import warn

KINDS = ("captures", "events", "rejects")
PLAIN, GZIP = ".jsonl", ".jsonl.gz"
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.jsonl(?:\.gz)?)$")
MAX_LINE_WARNINGS = 5
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class DataFileError(Exception):
    """A data file cannot be read."""


@dataclass(frozen=True, order=True)
class DayFile:
    """Name one daily file: its day, its order within the day (gz first) and its path."""

    day: str
    rank: int
    path: str

    @property
    def gzipped(self):
        """Say whether the file is gzip-compressed."""
        return self.path.endswith(GZIP)


def day_files(data_dir, kind, first_day=None, last_day=None, gzipped=True):
    """Return the ``kind`` files whose day is within ``[first_day, last_day]``, in day order."""
    folder = os.path.join(data_dir, kind)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise DataFileError(f"cannot list {folder}: {exc.strerror or exc}") from None
    found = []
    for name in names:
        match = DAY_FILE.match(name)
        if not match or (match.group(2) == GZIP and not gzipped):
            continue
        day = match.group(1)
        if (first_day and day < first_day) or (last_day and day > last_day):
            continue
        found.append(DayFile(day, 0 if match.group(2) == GZIP else 1, os.path.join(folder, name)))
    return sorted(found)


def open_binary(path):
    """Open a data file for reading bytes, decompressing ``.gz`` transparently."""
    try:
        return gzip.open(path, "rb") if path.endswith(GZIP) else open(path, "rb")
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None


class Reader:
    """Stream records from data files, counting and reporting the lines it had to skip."""

    def __init__(self, require=None, what="record", warn=True):
        self.require = require
        self.what = what
        self.warn = warn
        self.skipped = 0

    def skip(self, path, number, why):
        """Count one unreadable line and warn about the first few."""
        self.skipped += 1
        if self.warn and self.skipped <= MAX_LINE_WARNINGS:
            warn(f"{path} line {number}: {why}; skipped")

    def parse(self, line, path, number):
        """Return the JSON object on ``line``, or None (counted) when it is not one."""
        try:
            record = json.loads(line)
        except ValueError as exc:
            self.skip(path, number, f"not JSON ({exc.__class__.__name__})")
            return None
        except RecursionError:  # json.loads gives up on arrays nested thousands deep
            self.skip(path, number, "not JSON (nested too deeply)")
            return None
        if not isinstance(record, dict):
            self.skip(path, number, "not a JSON object")
            return None
        if self.require is not None and not self.require(record):
            self.skip(path, number, f"not a {self.what}")
            return None
        return record

    def records(self, path):
        """Yield every record of one file, in file order."""
        with open_binary(path) as handle:
            number = 0
            try:
                for number, line in enumerate(handle, 1):
                    if line.strip():
                        record = self.parse(line, path, number)
                        if record is not None:
                            yield record
            except GZIP_ERRORS as exc:
                raise DataFileError(f"cannot read {path} after line {number}: {exc}") from None
            except OSError as exc:
                raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None

    def stream(self, files):
        """Yield every record of ``files`` (``DayFile`` objects or paths), in order."""
        for item in files:
            yield from self.records(item.path if isinstance(item, DayFile) else item)

    def report(self):
        """Print how many lines were skipped in all, when more were skipped than were shown."""
        if self.warn and self.skipped > MAX_LINE_WARNINGS:
            warn(f"skipped {self.skipped} unreadable lines in all")
