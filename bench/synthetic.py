"""Write many synthetic but realistic captures fast, for memory and speed measurements.

Each capture is a real Smartech SMS_CLICK form body (the documented sample)
with its own guid, written as the receiver writes captures: one JSON line,
spread evenly over ``days`` UTC day files ending yesterday.
"""

import json
import os
from datetime import UTC, datetime, timedelta

from receiver.capture.record import utc_ms
from receiver.core import ids, jsonl, layout
from receiver.replay import samples

FORM = "application/x-www-form-urlencoded"
GUID_MARK = "GUID-PLACEHOLDER"
ID_MARK = "ID-PLACEHOLDER-0000000000"
STAMP_MARK = "STAMP-PLACEHOLDER-000000"
SIZE_MARK = 999999
WRITE_BATCH = 10000


def template():
    """Return one capture line with placeholders for id, time, guid and size."""
    event = samples.channel_event("SMS_CLICK")
    event["event_params"]["guid"] = GUID_MARK
    body = samples.encode_body(samples.payload([event])).decode("ascii")
    record = {
        "id": ID_MARK,
        "received_at": STAMP_MARK,
        "source": "default",
        "remote_addr": "203.0.113.7",
        "method": "POST",
        "path": "/webhook/",
        "content_type": FORM,
        "user": "smartech",
        "size": SIZE_MARK,
        "body": body,
    }
    return json.dumps(record, separators=(",", ":")) + "\n", len(body) - len(GUID_MARK)


def write(data_dir, count, days=1, end=None):
    """Write ``count`` captures over ``days`` day files before ``end`` (default today); return bytes written."""
    line, base_size = template()
    end = end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    step_ms = max(1, int(days * 86400 * 1000 / max(count, 1)))
    folder = jsonl.ensure_dir(os.path.join(jsonl.ensure_dir(data_dir), layout.CAPTURES))
    handles, written, batch = {}, 0, {}
    for n in range(count):
        when = start + timedelta(milliseconds=n * step_ms)
        ms = int(when.timestamp() * 1000)
        guid = f"{n:012d}-synthetic"
        text = (
            line.replace(ID_MARK, ids.encode((ms << ids.RANDOM_BITS) | n))
            .replace(STAMP_MARK, utc_ms(when))
            .replace(GUID_MARK, guid)
            # the whole field: a bare 999999 would also hit the customer's 9999999997
            .replace(f'"size":{SIZE_MARK}', f'"size":{base_size + len(guid)}')
        )
        day = when.strftime("%Y-%m-%d")
        batch.setdefault(day, []).append(text)
        if len(batch[day]) >= WRITE_BATCH:
            written += flush(folder, handles, day, batch.pop(day))
    for day, lines in batch.items():
        written += flush(folder, handles, day, lines)
    for handle in handles.values():
        handle.close()
    return written


def flush(folder, handles, day, lines):
    """Append ``lines`` to the day's file; return the bytes written."""
    if day not in handles:
        fd = os.open(os.path.join(folder, day + layout.SUFFIX), os.O_WRONLY | os.O_APPEND | os.O_CREAT, jsonl.FILE_MODE)
        handles[day] = os.fdopen(fd, "w", encoding="utf-8")
    data = "".join(lines)
    handles[day].write(data)
    return len(data)
