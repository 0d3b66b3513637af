"""Check a chaos run end to end, from each 200 to its events, and print one table.

A 200 is lost when one of its event ids is missing from the events files (or,
for a bad body, its capture has no reject); an event is duplicated when its id
is written more than once: the same capture and position twice, or the same
guid twice (``receiver.capture.eventid``). A non-200 is explained when a fault that can cause
it was in force: 503 only when the disk and Redis were both away, a broken
connection only when its gunicorn worker was killed. Then ``smartech-dumper audit``
must balance the books: every capture on disk processed (or otherwise accounted
for), none missing, none stuck. Anything else fails the run.
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter

from receiver.core.layout import CAPTURES
from receiver.forwarder import torn

EXPLAINS = {503: {"disk_full"}, "ConnectionError": {"gunicorn_kill"}}
REDIS_AWAY = {"redis_kill", "redis_stop"}
SETTLE_TIMEOUT = 240.0
NO_PROGRESS_TIMEOUT = 150.0  # generous: a SIGKILLed worker's job runs again within seconds (jobs/worker/reclaim.py)


def read_ids(data_dir, kind, field):
    """Return a Counter of ``field`` over every ``kind`` record in the data dir (torn lines are not records)."""
    found = Counter()
    folder = os.path.join(data_dir, kind)
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), "rb") as handle:
            for line in handle:
                try:
                    found[str(json.loads(line)[field])] += 1
                except (ValueError, KeyError, TypeError):
                    continue
    return found


def missing(posts, events, rejects):
    """Return the acknowledged posts whose events (or reject) are not all there."""
    lost = []
    for post in posts:
        if post.status != 200:
            continue
        if post.expected and not all(events[event_id] for event_id in post.event_ids()):
            lost.append(post)
        elif not post.expected and not rejects[post.capture_id]:
            lost.append(post)
    return lost


def settle(data_dir, posts):
    """Wait until every 200 has its events, or progress stops; return ``(events, rejects, lost)``."""
    started = last_progress = time.monotonic()
    best = None
    while True:
        events, rejects = read_ids(data_dir, "events", "event_id"), read_ids(data_dir, "rejects", "capture_id")
        lost = missing(posts, events, rejects)
        if not lost or time.monotonic() - started > SETTLE_TIMEOUT:
            return events, rejects, lost
        if best is None or len(lost) < best:
            best, last_progress = len(lost), time.monotonic()
        if time.monotonic() - last_progress > NO_PROGRESS_TIMEOUT:
            return events, rejects, lost
        time.sleep(1.0)


def explained(post):
    """Say whether a non-200 has a fault in force that accounts for it."""
    if post.status == 503:
        return "disk_full" in post.faults and bool(post.faults & REDIS_AWAY)
    if isinstance(post.status, str):
        return "gunicorn_kill" in post.faults
    return False


def percentile(values, share):
    """Return the ``share`` percentile of ``values`` in milliseconds, or 0."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def books(stack):
    """Run ``smartech-dumper audit --json`` on the settled stack; return ``(totals, balanced, what went wrong)``."""
    program = os.path.join(os.path.dirname(sys.executable), "smartech-dumper")
    done = subprocess.run([program, "audit", "--json"], env=stack.env, capture_output=True, text=True, timeout=300)
    try:
        found = json.loads(done.stdout)
    except ValueError:
        return {}, False, f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    totals = found["totals"]
    states = sum(count for state, count in totals.items() if state != "captures")
    balanced = done.returncode == 0 and states == totals["captures"] and not found["missing"] and not found["stuck"]
    return totals, balanced, "" if balanced else f"missing {found['missing'][:5]}, stuck {found['stuck'][:5]}"


def verify(stack, posts, injector, duration, seed):
    """Print the table; return True when nothing was lost or duplicated and every non-200 is explained."""
    events, rejects, lost = settle(stack.data_dir, posts)
    duplicated = sum(count - 1 for count in events.values() if count > 1)
    codes = Counter(post.status for post in posts)
    unexplained = [post for post in posts if post.status != 200 and not explained(post)]
    during = [post.answered_at - post.sent_at for post in posts if post.faults]
    captures = read_ids(stack.data_dir, CAPTURES, "id")
    acked_ids = {post.capture_id for post in posts if post.status == 200}
    totals, balanced, why = books(stack)
    rows = [
        ("seed, duration", f"{seed}, {duration:.0f}s"),
        ("faults injected", ", ".join(f"{name} x{count}" for name, count in sorted(injector.count.items()))),
        ("posts sent", len(posts)),
        ("posts answered 200", codes[200]),
        ("non-200 by code", ", ".join(f"{code} x{n}" for code, n in codes.items() if code != 200) or "none"),
        ("non-200 unexplained", len(unexplained)),
        ("captures on disk", f"{len(captures)} ({len(acked_ids - set(captures))} acknowledged through Redis only)"),
        ("torn lines kept aside", torn.count(stack.data_dir)),
        ("events written", sum(events.values())),
        ("rejects written", sum(rejects.values())),
        ("lost (a 200 without its events)", len(lost)),
        ("duplicated events", duplicated),
        ("audit --json totals", ", ".join(f"{state} {count}" for state, count in totals.items() if count) or why),
        ("audit balances", "yes" if balanced else f"NO ({why})"),
        (
            "ack latency during faults",
            f"p50 {percentile(during, 0.5):.1f} ms, p99 {percentile(during, 0.99):.1f} ms, "
            f"max {percentile(during, 1.0):.1f} ms ({len(during)} posts)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print("\nchaos run")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    for post in (lost + unexplained)[:10]:
        print(f"  ! {post.kind} {post.status} capture {post.capture_id} faults {sorted(post.faults)}")
    return not lost and not duplicated and not unexplained and balanced
