"""Hand a quarantined post to the normal path as a capture, exactly once: ``quarantine release``.

The capture gets a new id (so its ``received_at`` is the release time) and
``released_from``, the quarantine id; it is appended to today's captures
file like any other, and the forwarder queues it. Under the quarantine's
lock, the entry records ``releasing_as`` (the capture id) before the write
and ``released_as`` after it, becoming ``<id>.released``: a second release
does nothing and says so, and a release cut short after its write finds its
capture and never writes a second one.

Failure policy: ``UnknownEntry`` for an id not in quarantine; ``OSError``
for the disk, with nothing released (a retry is safe).
"""

import os
import time

from receiver.capture import record as capture
from receiver.core import ids, jsonl, layout, statefile
from receiver.ops.quarantine import RELEASED, path_of, read_record, releasing
from receiver.store.lookup import find_capture
from receiver.store.select import UnknownCaptureError, capture_reader


def rewrite(path: str, header: dict[str, object], body: bytes, target: str) -> None:
    """Write ``header`` and ``body`` to ``target`` atomically and durably, then remove ``path`` if it differs."""
    temp = target + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, jsonl.FILE_MODE)
    try:
        jsonl.write_all(fd, jsonl.encode_line(header) + body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, target)
    if path != target:
        os.unlink(path)
    statefile.fsync_dir(os.path.dirname(target))


def written_before(data_dir: str, capture_id: str | None) -> bool:
    """Say whether a capture with ``capture_id`` is in the captures files (a release cut short after its write)."""
    if not capture_id:
        return False
    try:
        find_capture(data_dir, capture_id, capture_reader())
    except UnknownCaptureError:
        return False
    return True


def release(data_dir: str, entry_id: str, fsync: bool = True) -> tuple[str, bool]:
    """Hand one quarantined post to the normal path as a capture, once; return ``(capture id, released now)``.

    The capture gets a new id (its received_at is the release time) and ``released_from``; the entry records
    ``releasing_as`` before the write and ``released_as`` after it, so a release cut short never writes twice.
    """
    with releasing(data_dir):
        path = path_of(data_dir, entry_id)
        key = os.path.basename(path).partition(".")[0]
        header, body = read_record(data_dir, entry_id)
        if header.get("released_as"):
            return str(header["released_as"]), False
        planned = header.get("releasing_as")
        if not written_before(data_dir, planned):
            if not planned or time.time() > layout.day_deadline(layout.day_name(ids.id_time_ms(planned) / 1000)):
                planned = ids.new_id()
                rewrite(path, {**header, "releasing_as": planned}, body, path)
            delivery = capture.new_delivery(
                planned,
                str(header.get("source") or capture.DEFAULT_SOURCE),
                str(header.get("remote_addr") or ""),
                str(header.get("method") or "POST"),
                str(header.get("path") or ""),
                header.get("content_type"),
                None,
                body,
                str(header.get("query") or ""),
            )
            record = {**capture.to_record(delivery), "released_from": key}
            day_file = layout.day_path(data_dir, layout.CAPTURES, layout.day_name(delivery.received_at))
            jsonl.append_lines(day_file, [jsonl.encode_line(record)], fsync=fsync)
        done = {**header, "releasing_as": planned, "released_as": planned, "released_at": capture.utc_ms()}
        rewrite(path, done, body, os.path.join(os.path.dirname(path), key + RELEASED))
        return str(planned), True
