"""Upgrade without duplicates: a capture received before this event-id rule keeps the ids the old rule gave.

The old rule gave an event without a guid the hash of its content (``h:…``,
``receiver.capture.eventid.legacy_ids``), so a second identical event in another capture
was dropped. Today's rule gives it its capture and position (``c:…``). A
capture received before the data dir first ran today's rule (``since`` in
``spool/event-ids.json``) may have been processed under the old one: its
events count as written when the index holds their old id too, so
reprocessing or replaying it writes nothing new, and events written before
keep their ids. A capture received later is judged by today's rule alone.

The first worker that writes events records ``since``: now, when the data
dir already holds events, else null (a new data dir: no capture is old).
Keep the file like the cursor; deleted, the next worker records a later
``since``, so captures between the two are checked against their old ids as
well: never a duplicate, at worst a repeat the old rule would have dropped.

Failure policy: OS errors propagate (the job is retried); an unreadable file
is treated as missing and written again.
"""

import os
from typing import Any

from receiver.capture.eventid import legacy_ids
from receiver.capture.record import utc_ms
from receiver.core import layout, statefile
from receiver.ledger.repeats import received_seconds

RULE = "capture-position"
_since: dict[str, float | None] = {}  # data dir -> since, once read or recorded by this process


def state_path(data_dir: str) -> str:
    """Return the path of the rule's state file in ``data_dir``'s spool."""
    return layout.spool_path(data_dir, layout.EVENT_IDS_FILE)


def read_since(data_dir: str) -> tuple[bool, float | None]:
    """Return ``(recorded, since)``: whether the file holds the rule, and since when (Unix seconds, or None)."""
    try:
        state = statefile.read_json(state_path(data_dir))
    except ValueError:
        return False, None
    if not isinstance(state, dict) or state.get("rule") != RULE:
        return False, None
    return True, received_seconds(state.get("since"))


def rule_since(data_dir: str) -> float | None:
    """Return since when ``data_dir`` runs today's rule (None: always), recording it on the first call."""
    key = os.path.abspath(data_dir)
    if key not in _since:
        recorded, since = read_since(data_dir)
        if not recorded:
            events_dir = os.path.join(data_dir, layout.EVENTS)
            had_events = os.path.isdir(events_dir) and bool(os.listdir(events_dir))
            stamp = utc_ms() if had_events else None
            layout.spool_dir(data_dir)
            statefile.write_json(state_path(data_dir), {"rule": RULE, "since": stamp})
            since = received_seconds(stamp)
        _since[key] = since
    return _since[key]


def aliases(events: list[dict[str, Any]], since: float | None) -> list[str | None] | None:
    """Return the old ids of a capture's events when it was received before ``since``, else None."""
    if since is None or not events:
        return None
    received = received_seconds(events[0].get("received_at"))
    return legacy_ids(events) if received is None or received < since else None
