"""Keep capture lines that cannot be read aside, in ``spool/torn-captures.jsonl``, instead of skipping them.

A writer killed in the middle of an append leaves a fragment without its end;
the next append starts on a fresh line (see ``jsonl``), so the fragment stands
as a line of its own. Such a line was never answered 200 (the writer died
before its sync), but it is kept, whole, with where it was found, so that an
operator can see it. Each one is logged once, when the forwarder meets it.
Failure policy: a write error propagates, and the forwarder tries the batch again.
"""

import logging
import os

from receiver.capture.record import utc_ms
from receiver.core import jsonl, layout

log = logging.getLogger("receiver.forwarder")
REASON = "torn capture line"
PREVIEW = 80


def torn_path(data_dir: str) -> str:
    """Return the file that keeps the torn lines."""
    return layout.spool_path(data_dir, layout.TORN_FILE)


def keep(data_dir: str, day: str, offset: int, line: bytes, fsync: bool = True) -> None:
    """Append one unreadable capture line, with where it was, to the torn-lines file, and log it once."""
    text = line.rstrip(b"\n").decode("utf-8", "backslashreplace")
    where = os.path.join(layout.CAPTURES, day + layout.SUFFIX)
    layout.spool_dir(data_dir)
    jsonl.append_lines(
        torn_path(data_dir),
        [
            jsonl.encode_line(
                {
                    "found_at": utc_ms(),
                    "file": where,
                    "offset": offset,
                    "size": len(line),
                    "reason": REASON,
                    "text": text,
                }
            )
        ],
        fsync=fsync,
    )
    log.error(
        "%s at %s offset %d (%d bytes) kept in %s: %r",
        REASON,
        where,
        offset,
        len(line),
        os.path.join(layout.SPOOL, layout.TORN_FILE),
        text[:PREVIEW],
    )


def count(data_dir: str) -> int:
    """Return how many torn lines have been kept."""
    try:
        with open(torn_path(data_dir), "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return 0
