"""Erase one customer from the data dir: every line that names them, in place of length, file by file, atomically.

``find`` learns the customer's ids (the id given, and the ``foreignkey`` and
``identity`` of every event naming one of them, in the events files and in
the captures' bodies) and their values (the fields of ``DUMPER_MASK_FIELDS``
in those events). ``erase_files`` then rewrites each file holding a line that
names an id: captures, events and rejects (``.jsonl`` and ``.jsonl.gz``), the
torn lines and the quarantine. Each such line has every spelling of those
values overwritten by ``*`` (``redaction``): the same length, so every offset
stays valid (the forwarder's cursor, the ledger's rows, the capture ids).
A file is written to a temporary file and renamed over the old one under the
writers' lock (``core/jsonl.py``), so a kill leaves it before or after, never
half-written, and a writer waiting for the lock appends to the new file. A line
written after a file's turn is kept: the customer interacted again.

Failure policy: OS errors propagate (a file done stays done; running again
finishes the rest); a line that is not JSON is searched as bytes.
"""

import fcntl
import gzip
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from receiver.capture.analyse import Reject, analyse_capture
from receiver.core import jsonl, layout
from receiver.core.statefile import fsync_dir
from receiver.ops.redaction import names, redact_line, spellings
from receiver.store.masking import Mask

TEMP_MARK = ".forget."
CUSTOMER_FIELDS = ("foreignkey", "identity")
LINE_KINDS = (layout.CAPTURES, layout.EVENTS, layout.REJECTS)


@dataclass
class Customer:
    """What names one customer: their ids, and every value of theirs to blank."""

    ids: set[str]
    values: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)  # theirs, as the events files hold them

    def id_forms(self) -> list[bytes]:
        """Return every spelling of the ids."""
        return spellings(self.ids)

    def value_forms(self) -> list[bytes]:
        """Return every spelling of the ids and values, longest first."""
        return spellings(self.ids | self.values)


def same(a: Any, b: str) -> bool:
    """Say whether event field value ``a`` is the id ``b`` (e-mail addresses whatever their case)."""
    text = str(a).strip()
    return text == b or ("@" in b and text.casefold() == b.casefold())


def learn(customer: Customer, event: Any, mask: Mask) -> None:
    """Add an event's ids and masked values to ``customer`` when it names one of their ids."""
    if not isinstance(event, dict):
        return
    own = [event.get(name) for name in CUSTOMER_FIELDS if event.get(name) not in (None, "")]
    if not any(same(value, known) for value in own for known in list(customer.ids)):
        return
    customer.ids |= {str(value).strip() for value in own}
    customer.events.append(event)
    shown = mask.tree(event)

    def walk(real: Any, masked: Any) -> None:
        if isinstance(real, dict) and isinstance(masked, dict):
            for key in real:
                walk(real[key], masked.get(key))
        elif isinstance(real, list) and isinstance(masked, list):
            for item, other in zip(real, masked):
                walk(item, other)
        elif real != masked and real is not None:
            customer.values.add(str(real))

    walk(event, shown)


def day_files(data_dir: str, kinds: tuple[str, ...] = LINE_KINDS) -> Iterator[str]:
    """Yield every day file of ``kinds`` (plain and compressed), oldest first."""
    for kind in kinds:
        folder = os.path.join(data_dir, kind)
        names_ = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        for name in names_:
            if not name.startswith(".") and name.endswith((layout.SUFFIX, layout.GZ_SUFFIX)):
                yield os.path.join(folder, name)


def lines_of(path: str) -> Iterator[bytes]:
    """Yield the lines of a data file, decompressed."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as handle:
        yield from handle


def find(data_dir: str, customer_id: str, mask: Mask) -> Customer:
    """Return the customer ``customer_id`` names, learned from the events files and the captures' bodies."""
    customer = Customer({customer_id.strip()})
    for _ in range(2):  # an id learned late names lines read before it
        before = set(customer.ids)
        forms = customer.id_forms()
        for path in day_files(data_dir, (layout.EVENTS, layout.CAPTURES)):
            for line in lines_of(path):
                if names(line, forms):
                    for event in events_in(line, os.path.basename(os.path.dirname(path))):
                        learn(customer, event, mask)
        if customer.ids == before:
            break
    return customer


def events_in(line: bytes, kind: str) -> list[Any]:
    """Return the events a line holds: itself for an events line, its payload's for a capture."""
    try:
        record = json.loads(line)
    except ValueError:
        return []
    if kind == layout.EVENTS:
        return [record]
    try:
        return list(analyse_capture(record, None).events) if isinstance(record, dict) else []
    except (Reject, Exception):  # noqa: BLE001 - a capture the worker cannot read names nobody by its events
        return []


def other_files(data_dir: str) -> Iterator[str]:
    """Yield the torn lines file and the quarantined posts."""
    torn = layout.spool_path(data_dir, layout.TORN_FILE)
    if os.path.exists(torn):
        yield torn
    folder = os.path.join(data_dir, layout.QUARANTINE_DIR)
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.startswith("."):
            yield os.path.join(folder, name)


@contextmanager
def writers_lock(path: str) -> Iterator[None]:
    """Hold the lock the writers of ``path`` take: the day file's own (``.jsonl``, or the one beside a ``.gz``)."""
    target = path[: -len(".gz")] if path.endswith(layout.GZ_SUFFIX) else path
    if path.startswith(os.path.join(os.path.dirname(os.path.dirname(path)), layout.QUARANTINE_DIR)):
        target = os.path.join(os.path.dirname(path), layout.QUARANTINE_LOCK)
    if target == path and path.endswith(layout.SUFFIX):
        with jsonl.locked(path):  # an appender that waited reopens the file by name: the new one
            yield
        return
    fd = os.open(target if os.path.exists(target) else path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def count(path: str, customer: Customer) -> int:
    """Return how many lines of ``path`` name the customer."""
    forms = customer.id_forms()
    return sum(1 for line in lines_of(path) if names(line, forms))


def rewrite(path: str, customer: Customer) -> int:
    """Blank the customer's values in each line of ``path`` that names them; return how many lines changed."""
    ids, values = customer.id_forms(), customer.value_forms()
    folder, name = os.path.split(path)
    with writers_lock(path):
        temp = os.path.join(folder, f".{name}{TEMP_MARK}{os.getpid()}.tmp")
        changed = 0
        try:
            with open(temp, "wb", opener=lambda p, f: os.open(p, f | os.O_EXCL, jsonl.FILE_MODE)) as out:
                sink = gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) if path.endswith(".gz") else out
                for line in lines_of(path):
                    new = redact_line(line, values) if names(line, ids) else line
                    changed += new != line
                    sink.write(new)
                if sink is not out:
                    sink.close()
                out.flush()
                os.fsync(out.fileno())
            if changed:
                os.rename(temp, path)
                fsync_dir(folder)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
    return changed


def clean_leftovers(data_dir: str) -> None:
    """Remove the temporary files of a run that was killed."""
    folders = [os.path.join(data_dir, kind) for kind in LINE_KINDS]
    folders += [layout.spool_dir(data_dir), os.path.join(data_dir, layout.QUARANTINE_DIR)]
    for folder in folders:
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if name.startswith(".") and TEMP_MARK in name and name.endswith(".tmp"):
                os.unlink(os.path.join(folder, name))


def erase_files(data_dir: str, customer: Customer, dry_run: bool) -> dict[str, int]:
    """Blank the customer in every file naming them (or, with ``dry_run``, count); return lines by file."""
    if not dry_run:
        clean_leftovers(data_dir)
    found = {}
    for path in [*day_files(data_dir), *other_files(data_dir)]:
        lines = count(path, customer)  # without the lock: most files name nobody of theirs
        if lines and not dry_run:
            lines = rewrite(path, customer)  # under the lock, read again
        if lines:
            found[os.path.relpath(path, data_dir)] = lines
    return found
