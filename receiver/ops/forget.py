"""``forget``: erase one customer everywhere the receiver keeps them, and note that it did, without their id.

In order: the customer's ids and values are learned (``erasure.find``); the
timeline index and the ledger's content hashes of their events are deleted;
every data file naming them is rewritten (``erasure.erase_files``); the jobs
RQ keeps in Redis have their values blanked and the results naming them are
deleted. The sql sinks are the caller's (``jobs/routing/erase.py``): this
room cannot reach them. Last, ``record`` appends one line to
``spool/erasures.jsonl``: a keyed hash of the id given, the time, the counts.

Failure policy: OS, SQLite and Redis errors propagate; every step can run
again, so a second run after a failure (or a kill) finishes the work.
"""

import os
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from rq.job import Job
from rq.results import Result

from receiver.capture.record import utc_ms
from receiver.core import customerkey, jsonl, layout
from receiver.ledger import index as ledger_index
from receiver.ledger import repeats, timeline
from receiver.ops.erasure import Customer, erase_files, find
from receiver.ops.redaction import names, redact_line
from receiver.store.masking import Mask

SCAN_COUNT = 1000


@dataclass
class ForgetReport:
    """What a ``forget`` run changed, or would change with ``--dry-run``."""

    customer: Customer
    files: dict[str, int] = field(default_factory=dict)  # data file -> lines naming the customer
    timeline_rows: int = 0
    ledger_rows: int = 0
    jobs: int = 0
    results: int = 0
    sinks: dict[str, int] = field(default_factory=dict)  # sql sink -> rows

    def counts(self) -> dict[str, Any]:
        """Return the counts, without any id or value of the customer."""
        return {
            "ids": len(self.customer.ids),
            "lines": sum(self.files.values()),
            "files": len(self.files),
            "timeline_rows": self.timeline_rows,
            "ledger_rows": self.ledger_rows,
            "redis_jobs": self.jobs,
            "redis_results": self.results,
            "sink_rows": dict(self.sinks),
        }


def hashes(data_dir: str, customer: Customer) -> list[str]:
    """Return the keyed hashes of every id of the customer."""
    key = customerkey.load_key(data_dir)
    return sorted({customerkey.customer_hash(key, name) for name in customer.ids})


def forget_indexes(data_dir: str, customer: Customer, dry_run: bool) -> tuple[int, int]:
    """Delete (or count) the customer's timeline rows and the ledger's content hashes of their events."""
    marks = ",".join("?" * len(hashes(data_dir, customer)))
    connection = timeline.connect(data_dir)
    try:
        sql = f"FROM timeline WHERE customer IN ({marks})"
        rows = connection.execute(f"SELECT COUNT(*) {sql}", hashes(data_dir, customer)).fetchone()[0]
        if not dry_run:
            connection.execute(f"DELETE {sql}", hashes(data_dir, customer))
    finally:
        connection.close()
    contents = [row[0] for event in customer.events if (row := repeats.row_of(event, "")) is not None]
    if not contents or not os.path.exists(layout.spool_path(data_dir, layout.LEDGER_FILE)):
        return rows, 0
    ledger = ledger_index.connect(data_dir)
    sql = f"FROM contents WHERE content IN ({','.join('?' * len(contents))})"
    found = ledger.execute(f"SELECT COUNT(*) {sql}", contents).fetchone()[0]
    if not dry_run:
        ledger.execute(f"DELETE {sql}", contents)
    return rows, found


def forget_jobs(connection: redis.Redis, customer: Customer, dry_run: bool) -> tuple[int, int]:
    """Blank the customer's values in every RQ job that names them; delete the results naming them."""
    ids, values = customer.id_forms(), customer.value_forms()
    jobs = results = 0
    for key in connection.scan_iter(match=Job.redis_job_namespace_prefix + "*", count=SCAN_COUNT):
        if connection.type(key) not in (b"hash", "hash"):
            continue
        packed = connection.hget(key, "data")
        try:
            data = zlib.decompress(packed) if isinstance(packed, bytes) else b""
        except zlib.error:
            data = b""
        if names(data, ids):
            jobs += 1
            if not dry_run:
                connection.hset(key, "data", zlib.compress(redact_line(data, values)))
        job_id = (key.decode() if isinstance(key, bytes) else str(key))[len(Job.redis_job_namespace_prefix) :]
        results += forget_results(connection, Result.get_key(job_id), ids, dry_run)
    return jobs, results


def forget_results(connection: redis.Redis, key: str, ids: list[bytes], dry_run: bool) -> int:
    """Delete (or count) the entries of a job's results stream that name the customer."""
    found = 0
    for entry, fields in connection.xrange(key) or []:
        if entry is not None and any(
            names(value, ids) for value in (fields or {}).values() if isinstance(value, bytes)
        ):
            found += 1
            if not dry_run:
                connection.xdel(key, entry)
    return found


def forget(data_dir: str, customer_id: str, mask: Mask, connection: redis.Redis | None, dry_run: bool) -> ForgetReport:
    """Erase ``customer_id`` from the data dir, the indexes and Redis (or, with ``dry_run``, count it)."""
    customer = find(data_dir, customer_id, mask)
    report = ForgetReport(customer)
    report.timeline_rows, report.ledger_rows = forget_indexes(data_dir, customer, dry_run)
    report.files = erase_files(data_dir, customer, dry_run)
    if connection is not None:
        report.jobs, report.results = forget_jobs(connection, customer, dry_run)
    return report


def record(data_dir: str, customer_id: str, report: ForgetReport) -> dict[str, Any]:
    """Append the run's erasure record to ``spool/erasures.jsonl`` (no id, no value: a keyed hash); return it."""
    key = customerkey.load_key(data_dir)
    line = {
        "erased_at": utc_ms(datetime.now(UTC)),
        "customer": customerkey.HASH_PREFIX + customerkey.customer_hash(key, customer_id),
        **report.counts(),
    }
    jsonl.append_lines(layout.spool_path(data_dir, layout.ERASURES_FILE), [jsonl.encode_line(line)], fsync=True)
    return line
