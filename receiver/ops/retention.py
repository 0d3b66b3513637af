"""What ``prune`` and ``compress`` select and do: whole closed days of captures, events and rejects.

Both work on whole days of all three kinds (captures, events, rejects); a
file's day is its name. Neither touches today, nor a day the receiver may
still append to (until ``layout.WRITE_GRACE`` after its midnight), nor a
captures day the forwarder has not yet handed to the queue in full; without a
saved cursor, no captures day counts as handed over.

Failure policy: each file is deleted or compressed as it is yielded, so what
was done before a failure stays done; ``OSError`` and ``DataFileError``
propagate to the caller. A cutoff in the future raises ``FutureCutoff``.
Nothing is printed here.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from receiver.core import layout
from receiver.core.layout import KINDS
from receiver.forwarder import cursor
from receiver.ops.gzday import compress as compress_file
from receiver.store.files import DayFile, day_files

UNFORWARDED_NOTE = "the forwarder has not handed all of it to the queue (see smartech-dumper forward)"


class FutureCutoff(ValueError):
    """The age ``prune --older-than`` was given is in the future: the message says what it must be."""


@dataclass(frozen=True)
class Tidied:
    """One day file: its name in the data dir, and either why it was kept or its size (and compressed size)."""

    name: str
    kept: str | None = None
    size: int = 0
    packed: int | None = None


@dataclass
class TidyTotals:
    """The files a run deleted or compressed (or would), and their bytes before and after."""

    files: int = 0
    before: int = 0
    after: int = 0

    def add(self, item: Tidied) -> None:
        """Count one file unless it was kept."""
        if item.kept is None:
            self.files, self.before = self.files + 1, self.before + item.size
            self.after += item.packed or 0


def last_closed_day(now: datetime) -> str:
    """Return the newest day that is closed: over for longer than the receiver's grace period."""
    return (now - timedelta(days=1, seconds=layout.WRITE_GRACE)).date().isoformat()


def last_prunable_day(cutoff: datetime, now: datetime) -> str:
    """Return the newest day that ended before ``cutoff`` and is closed; raise ``FutureCutoff`` past ``now``."""
    if cutoff > now:
        raise FutureCutoff("must be in the past")
    return min((cutoff.date() - timedelta(days=1)).isoformat(), last_closed_day(now))


def unforwarded(data_dir: str, kind: str, day: str) -> bool:
    """Say whether captures of ``day`` may still wait for the forwarder."""
    if kind != layout.CAPTURES:
        return False
    saved = cursor.load(data_dir)
    return saved is None or day >= saved.day


def candidates(data_dir: str, last_day: str, gzipped: bool) -> Iterator[tuple[str, DayFile, str | None]]:
    """Yield ``(kind, DayFile, note)`` for files up to ``last_day``; ``note`` says why one is kept."""
    for kind in KINDS:
        for item in day_files(data_dir, kind, last_day=last_day, gzipped=gzipped):
            yield kind, item, UNFORWARDED_NOTE if unforwarded(data_dir, kind, item.day) else None


def relative(data_dir: str, path: str) -> str:
    """Return ``path`` relative to the data dir, for messages."""
    return os.path.relpath(path, data_dir)


def prune(data_dir: str, last_day: str, dry_run: bool) -> Iterator[Tidied]:
    """Delete (unless ``dry_run``) every day file up to ``last_day``, yielding each as it goes."""
    for _kind, item, note in candidates(data_dir, last_day, gzipped=True):
        if note:
            yield Tidied(relative(data_dir, item.path), kept=note)
            continue
        size = os.path.getsize(item.path)
        if not dry_run:
            os.unlink(item.path)
        yield Tidied(relative(data_dir, item.path), size=size)


def compress(data_dir: str, last_day: str, dry_run: bool) -> Iterator[Tidied]:
    """Gzip (unless ``dry_run``) every plain day file up to ``last_day``, yielding each as it goes."""
    for _kind, item, note in candidates(data_dir, last_day, gzipped=False):
        name = relative(data_dir, item.path)
        if note:
            yield Tidied(name, kept=note)
            continue
        size = os.path.getsize(item.path)
        yield Tidied(name, size=size, packed=None if dry_run else compress_file(item.path))
