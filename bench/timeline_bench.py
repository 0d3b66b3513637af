"""A customer's timeline over 30 days of 100,000 captures a day: the first page's time, and the index's rebuild.

Writes ``days`` synthetic events day files (``per_day`` events each, one per
capture; the closed days gzipped, as ``compress`` leaves them; today plain),
spread over ``customers`` customers, one of whom has ``mine`` events a day.
Then rebuilds the timeline index from the files (``catch_up``, timed), and times
the first page (50 events) of that customer ``rounds`` times, as the inspector and
``smartech-dumper customer`` read it (``receiver.ops.timelines.customer_page``:
the catch-up check of every day file, the index query, masking).

    .venv/bin/python -m bench.timeline_bench [--days 30] [--per-day 100000] [--rounds 20]
"""

import argparse
import gzip
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.procs import scratch_dir
from bench.report import table
from receiver.core import ids, layout
from receiver.core.settings import load
from receiver.ledger import timeline
from receiver.ops.timelines import customer_page
from receiver.store.masking import Mask

DAYS, PER_DAY, ROUNDS, CUSTOMERS, MINE = 30, 100_000, 20, 200_000, 5
TARGET_MS = 200
CUSTOMER = "9999999997"
CHANNELS = [("SMS_CLICK", "sms", "click"), ("EMAIL_OPEN", "email", "open"), ("APN_VIEW", "apn", "view")]


def event_line(when, customer, number):
    """Return one events line as the worker writes it, for ``customer`` at ``when``."""
    capture_id = ids.encode((int(when.timestamp() * 1000) << ids.RANDOM_BITS) | random.getrandbits(ids.RANDOM_BITS))
    webhook, channel, activity = CHANNELS[number % len(CHANNELS)]
    event = {
        "event_id": f"c:{capture_id}:0",
        "repeat_of": None,
        "capture_id": capture_id,
        "source": "default",
        "received_at": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "panel": "smartech_panel",
        "webhook_name": webhook,
        "channel": channel,
        "activity": activity,
        "foreignkey": customer,
        "identity": None,
        "journey_name": f"Journey {number % 40}",
        "att_params": {"CITY": "Thane", "MOBILE": "+91" + customer},
        "warnings": [],
    }
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def write_days(data_dir, days, per_day, customers, mine):
    """Write the events files; return how many events are the bench customer's."""
    folder = os.path.join(data_dir, layout.EVENTS)
    os.makedirs(folder, exist_ok=True)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    step = 86_400 / per_day
    for age in range(days - 1, -1, -1):
        start = today - timedelta(days=age)
        day = start.strftime(layout.DAY_FORMAT)
        chosen = set(random.sample(range(per_day), mine))
        lines = [
            event_line(
                start + timedelta(seconds=i * step),
                CUSTOMER if i in chosen else str(7_000_000_000 + random.randrange(customers)),
                i,
            )
            for i in range(per_day)
        ]
        if age:
            with gzip.open(os.path.join(folder, day + layout.GZ_SUFFIX), "wb", compresslevel=1) as out:
                out.writelines(lines)
        else:
            with open(os.path.join(folder, day + layout.SUFFIX), "wb") as out:
                out.writelines(lines)
    return days * mine


def run(workdir, days=DAYS, per_day=PER_DAY, rounds=ROUNDS, customers=CUSTOMERS, mine=MINE):
    """Build the data dir, rebuild the index, time the first page; print and return the figures."""
    data_dir = os.path.join(workdir, "var")
    started = time.perf_counter()
    expected = write_days(data_dir, days, per_day, customers, mine)
    written = time.perf_counter() - started
    started = time.perf_counter()
    timeline.catch_up(data_dir)
    rebuilt = time.perf_counter() - started
    settings = load(environ={"DUMPER_DATA_DIR": data_dir})
    mask = Mask(settings.mask_fields)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        page = customer_page(settings, None, CUSTOMER, mask=mask)
        times.append((time.perf_counter() - started) * 1000)
    assert len(page.events) == min(50, expected) and page.events[0]["received_at"] > page.events[-1]["received_at"]
    index_mb = os.path.getsize(layout.spool_path(data_dir, layout.TIMELINE_FILE)) / 2**20
    figures = {
        "events": days * per_day,
        "write_s": round(written, 1),
        "rebuild_s": round(rebuilt, 1),
        "index_mb": round(index_mb, 1),
        "first_page_median_ms": round(statistics.median(times), 1),
        "first_page_max_ms": round(max(times), 1),
    }
    table(
        f"timeline: {days} days x {per_day:,} events, first page of 50 (target < {TARGET_MS} ms)",
        ["events", "index rebuild (s)", "index (MiB)", "first page median (ms)", "max (ms)"],
        [[figures["events"], rebuilt, index_mb, figures["first_page_median_ms"], figures["first_page_max_ms"]]],
    )
    return figures


def main():
    """Run the bench from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args()
    with scratch_dir("timeline-") as workdir:
        run(workdir, options.days, options.per_day, options.rounds)


if __name__ == "__main__":
    main()
