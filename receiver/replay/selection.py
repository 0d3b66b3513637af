"""Say which captures a replay sends: ids given, filters resolved once, and the key of a resume file.

Failure policy: a text that is not a capture id raises ``BadOption`` naming
``ID``; an id in no capture file raises ``UnknownCaptureError`` and an
unreadable file ``DataFileError`` (both from ``receiver.store``); a capture
that cannot be matched against the filters is handed to the ``warn`` callback
and skipped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from receiver.replay.errors import BadOption
from receiver.store.files import Reader, Warn
from receiver.store.filters import Filters
from receiver.store.select import (
    BadCaptureId,
    Pair,
    by_ids,
    capture_reader,
    check_ids_exist,
    matching,
    normal_id,
    select,
)

ID_OPTION = "ID"  # how the command line names a capture id it was given


def read_ids(ids: Iterable[str], lines: Iterable[str] | None = None) -> tuple[str, ...]:
    """Return the capture ids of ``ids`` and of ``lines`` (one per line), checked, de-duplicated and sorted."""
    given = list(ids) + ([line for line in (raw.strip() for raw in lines) if line] if lines is not None else [])
    try:
        return tuple(sorted({normal_id(text) for text in given}))
    except BadCaptureId as exc:
        raise BadOption(ID_OPTION, str(exc)) from None


def up_to_start(filters: Filters, started: datetime) -> Filters:
    """Resolve the window against ``started`` and end it there at the latest.

    A replay into our own receiver must never pick up the captures it creates, and a
    resumed replay must select what the first run selected.
    """
    filters = replace(filters, now=started)
    until = filters.window()[1]
    return filters if until is not None and until <= started else replace(filters, until=started.isoformat())


@dataclass(frozen=True)
class Selection:
    """The captures a replay sends: those of the data dir (or of ``files``) that pass the filters, or ``ids``."""

    data_dir: str
    filters: Filters = field(default_factory=Filters)
    files: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()

    def key(self) -> dict[str, Any]:
        """Return what identifies this selection in a resume state file."""
        digest = hashlib.sha256("\n".join(self.ids).encode()).hexdigest() if self.ids else None
        return {
            "data_dir": os.path.abspath(self.data_dir),
            "filters": self.filters.describe(),
            "files": [os.path.abspath(path) for path in self.files],
            "ids_sha256": digest,
        }

    def check_ids(self) -> None:
        """Raise ``UnknownCaptureError`` naming the ids given that are in no capture file."""
        if self.ids:
            check_ids_exist(self.data_dir, self.ids, capture_reader())

    def up_to(self, started: datetime) -> Selection:
        """Return this selection with its window resolved against ``started`` and ending there at the latest."""
        return replace(self, filters=up_to_start(self.filters, started))

    def pairs(self, reader: Reader, warn: Warn | None = None) -> Iterator[Pair]:
        """Return the selected captures as ``(record, Reading)`` pairs, in a fixed order."""
        if self.ids:
            return matching(by_ids(self.data_dir, self.ids, reader), self.filters, warn=warn, data_dir=self.data_dir)
        return select(self.data_dir, self.filters, reader, files=self.files, warn=warn)
