"""Drop events that were already written, by ``event_id``, within the dedup window.

Seen ids live in one Redis set per UTC processing day, which expires once the
window has passed; an event is a duplicate if any set of the window's days
holds its id. The order is check, write, then mark: a crash between writing
and marking can repeat those events on the retry (at-least-once), but never
loses one. A Redis that lost its data forgets what it had seen, too.
"""
import math
import time
from datetime import datetime, timezone

from receiver.jsonl import day_name

KEY = "smartech-dumper:seen:{queue}:{day}"
DAY = 86400


def window_keys(settings, now=None):
    """Return the keys of the day sets that cover the window, today's first."""
    now = time.time() if now is None else now
    days = math.ceil(settings.dedup_window / DAY)
    return [KEY.format(queue=settings.queue, day=day_name_at(now - back * DAY)) for back in range(days + 1)]


def day_name_at(timestamp):
    """Return the UTC day name of a Unix timestamp."""
    return day_name(datetime.fromtimestamp(timestamp, tz=timezone.utc))


def new_events(connection, settings, events, now=None):
    """Return the events whose ids were not seen in the window nor earlier in ``events``."""
    if not events:
        return []
    ids = [event["event_id"] for event in events]
    with connection.pipeline(transaction=False) as pipe:
        for key in window_keys(settings, now):
            pipe.smismember(key, ids)
        answers = pipe.execute()
    seen = {event_id for flags in answers for event_id, flag in zip(ids, flags) if flag}
    fresh = []
    for event in events:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            fresh.append(event)
    return fresh


def mark_seen(connection, settings, events, now=None):
    """Record the ids of ``events`` in today's set, which expires after the window."""
    if not events:
        return
    key = window_keys(settings, now)[0]
    with connection.pipeline(transaction=False) as pipe:
        pipe.sadd(key, *[event["event_id"] for event in events])
        pipe.expire(key, int(settings.dedup_window) + DAY)
        pipe.execute()
