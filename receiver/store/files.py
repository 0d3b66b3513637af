"""Find the daily data files and stream their records, gzipped or not.

A day is named by its file: ``KIND/YYYY-MM-DD.jsonl`` and, once compressed,
``KIND/YYYY-MM-DD.jsonl.gz``. When both exist for a day (a worker wrote to a
day after it was compressed), the ``.gz`` is read first, then the ``.jsonl``.
Records are read one line at a time, so memory does not grow with the files.

Failure policy: a line that is not a JSON object is skipped and counted, and
the first few are handed to the reader's ``warn`` callback (nothing is
printed here); a file that cannot be listed, opened or decompressed raises
``DataFileError``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from receiver.core.layout import SUFFIX

Record = dict[str, Any]
Warn = Callable[[str], None]

PLAIN, GZIP = SUFFIX, SUFFIX + ".gz"
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
    def gzipped(self) -> bool:
        """Say whether the file is gzip-compressed."""
        return self.path.endswith(GZIP)


def day_files(
    data_dir: str, kind: str, first_day: str | None = None, last_day: str | None = None, gzipped: bool = True
) -> list[DayFile]:
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


def open_binary(path: str) -> gzip.GzipFile | io.BufferedReader:
    """Open a data file for reading bytes, decompressing ``.gz`` transparently."""
    try:
        return gzip.open(path, "rb") if path.endswith(GZIP) else open(path, "rb")
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None


class Reader:
    """Stream records from data files, counting the lines it had to skip and warning about the first few."""

    def __init__(
        self, require: Callable[[Record], bool] | None = None, what: str = "record", warn: Warn | None = None
    ) -> None:
        self.require = require
        self.what = what
        self.warn = warn
        self.skipped = 0

    def skip(self, path: str, number: int | str, why: str) -> None:
        """Count one unreadable line and warn about the first few."""
        self.skipped += 1
        if self.warn is not None and self.skipped <= MAX_LINE_WARNINGS:
            self.warn(f"{path} line {number}: {why}; skipped")

    def parse(self, line: bytes, path: str, number: int | str) -> Record | None:
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

    def records(self, path: str) -> Iterator[Record]:
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

    def stream(self, files: Iterable[DayFile | str]) -> Iterator[Record]:
        """Yield every record of ``files`` (``DayFile`` objects or paths), in order."""
        for item in files:
            yield from self.records(item.path if isinstance(item, DayFile) else item)

    def report(self) -> None:
        """Warn how many lines were skipped in all, when more were skipped than were shown."""
        if self.warn is not None and self.skipped > MAX_LINE_WARNINGS:
            self.warn(f"skipped {self.skipped} unreadable lines in all")
