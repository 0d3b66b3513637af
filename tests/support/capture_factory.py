"""Make capture records at chosen times, with the receiver's own record and file code."""

import gzip
import json
import os
import random
from datetime import UTC, datetime, timedelta

from receiver.capture.record import Delivery, body_bytes, to_record
from receiver.core import ids, jsonl
from receiver.replay import samples
from tests.support.helpers import append_records

FORM = "application/x-www-form-urlencoded"
CUSTOMER = samples.FOREIGN_KEY
RANDOM_BITS = 79


def utc(*args):
    """Return a UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def capture_id_at(when):
    """Return a fresh ULID whose time is ``when``."""
    ms = int(when.timestamp() * 1000)
    return ids.encode((ms << ids.RANDOM_BITS) | random.getrandbits(RANDOM_BITS))


def make_capture(when, body, content_type=FORM, source="default", user="smartech"):
    """Return the capture record the receiver would write for ``body`` received at ``when``."""
    capture_id = capture_id_at(when)
    path = "/webhook/" if source == "default" else f"/webhook/{source}"
    body = body if isinstance(body, bytes) else body.encode("utf-8")
    delivery = Delivery(
        capture_id, ids.id_time_ms(capture_id), source, "203.0.113.7", "POST", path, content_type, user, body
    )
    return to_record(delivery)


def smartech_body(webhook_name="SMS_CLICK", foreignkey=CUSTOMER, guid=None, trailer=""):
    """Return a Smartech form body with one channel event, as Smartech encodes it."""
    event = samples.channel_event(webhook_name)
    event["event_params"]["foreignkey"] = foreignkey
    event["event_params"]["guid"] = guid or f"guid-{random.getrandbits(48):x}"
    return samples.encode_body(samples.payload([event])) + trailer.encode()


def write_captures(data_dir, records):
    """Append ``records`` to the captures files of their days, as the receiver does."""
    for record in records:
        day = record["received_at"][:10]
        append_records(data_dir, "captures", [record], day=day)
    return records


def write_gz(data_dir, kind, day, records):
    """Write ``records`` as a compressed day file directly."""
    folder = jsonl.ensure_dir(os.path.join(data_dir, kind))
    path = os.path.join(folder, f"{day}.jsonl.gz")
    with gzip.open(path, "ab") as handle:
        for record in records:
            handle.write(jsonl.encode_line(record))
    return path


def read_all(data_dir, kind):
    """Return every record of every ``kind`` file, gzipped or not, in day order."""
    folder = os.path.join(data_dir, kind)
    if not os.path.isdir(folder):
        return []
    records = []
    for name in sorted(os.listdir(folder), key=lambda n: (n[:10], not n.endswith(".gz"))):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(os.path.join(folder, name), "rb") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    return records


def days_ago(days, hour=12):
    """Return the UTC time ``days`` days ago at ``hour`` o'clock."""
    today = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


__all__ = ["body_bytes", "make_capture", "smartech_body", "write_captures", "write_gz", "read_all", "utc"]
