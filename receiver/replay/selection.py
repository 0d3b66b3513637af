"""Say which captures a replay sends: ids given, filters resolved once, and the key of a resume file."""

import hashlib
import os
from dataclasses import replace

from receiver.store.select import by_ids, matching, select
from scripts.view.options import normal_id
from scripts.view.output import warn


def read_ids(ids, ids_file):
    """Return the capture ids given with ``--id`` and ``--ids-from``, checked and de-duplicated."""
    given = list(ids) + ([line for line in (raw.strip() for raw in ids_file) if line] if ids_file else [])
    return sorted({normal_id(text) for text in given})


def selection_key(data_dir, filters, files, ids):
    """Return what identifies this replay's selection in a resume state file."""
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest() if ids else None
    return {
        "data_dir": os.path.abspath(data_dir),
        "filters": filters.describe(),
        "files": [os.path.abspath(path) for path in files],
        "ids_sha256": digest,
    }


def stream(data_dir, filters, files, ids, reader):
    """Return the selected captures as ``(record, Analysis)`` pairs."""
    if ids:
        return matching(by_ids(data_dir, ids, reader), filters, warn=warn, data_dir=data_dir)
    return select(data_dir, filters, reader, files=files, warn=warn)


def up_to_start(filters, started):
    """Resolve the window against ``started`` and end it there at the latest.

    A replay into our own receiver must never pick up the captures it creates, and a
    resumed replay must select what the first run selected.
    """
    filters = replace(filters, now=started)
    until = filters.window()[1]
    return filters if until is not None and until <= started else replace(filters, until=started.isoformat())
