"""One customer's timeline, for ``smartech-dumper customer`` and the inspector's ``/customers/<id>``.

Every event of the customer the events files hold (the retention window),
newest first, a page at a time: its time, channel, activity, journey, webhook
name, capture, and where routing sent it (each sink and the status of its
delivery job, while RQ keeps it: an hour after it ran). The events come from
the timeline index (``receiver/ledger/timeline.py``), so a page costs the same
over 30 days as over one. The customer's id is shown masked unless unmasked
(``receiver/store/masking.py``).

Failure policy: reading errors (OS, SQLite) propagate to the caller, which
reports them; a Redis that does not answer makes each routing "unknown".
"""

from dataclasses import dataclass, field
from typing import Any

import redis

from receiver.core.queues import REDIS_ERRORS
from receiver.core.settings import Settings
from receiver.ledger import timeline
from receiver.routes.status import deliveries_of
from receiver.store.masking import Mask, mask_text

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
UNKNOWN = "unknown (Redis did not answer)"
NOT_ROUTED = "-"
CURSOR_SEPARATOR = "|"


@dataclass
class TimelinePage:
    """Hold one page of a customer's timeline: the events, newest first, and where the next page starts."""

    customer: str  # as shown: masked unless unmasked
    events: list[dict[str, Any]] = field(default_factory=list)
    next: str | None = None  # the ``before`` of the next page, or None on the last


def parse_before(text: str | None) -> tuple[str, str] | None:
    """Return the ``(received_at, event_id)`` a ``before`` token names, or None for the first page."""
    if not text or CURSOR_SEPARATOR not in text:
        return None
    received_at, _, event_id = text.partition(CURSOR_SEPARATOR)
    return received_at, event_id


def routing(settings: Settings, connection: redis.Redis | None, capture_id: str, cache: dict[str, str]) -> str:
    """Return where routing sent a capture's events: ``sink (status)`` for each delivery job RQ still keeps."""
    if capture_id in cache:
        return cache[capture_id]
    if connection is None or not settings.routes_path:
        found = NOT_ROUTED
    else:
        try:
            jobs = deliveries_of(settings, connection, capture_id)
            found = ", ".join(f"{job['sink']} ({job['status']})" for job in jobs) or NOT_ROUTED
        except REDIS_ERRORS:
            found = UNKNOWN
    cache[capture_id] = found
    return found


def customer_page(
    settings: Settings,
    connection: redis.Redis | None,
    customer: str,
    size: int = DEFAULT_PAGE_SIZE,
    before: str | None = None,
    mask: Mask | None = None,
) -> TimelinePage:
    """Return one page of ``customer``'s events (a foreignkey, an identity or an Email API EMAIL), newest first."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    rows = timeline.customer_events(settings.data_dir, customer, size + 1, parse_before(before))
    shown = mask_text(customer) if mask is not None and mask.keys else customer
    page = TimelinePage(customer=shown)
    cache: dict[str, str] = {}
    for row in rows[:size]:
        page.events.append({**row, "routed": routing(settings, connection, str(row["capture_id"]), cache)})
    if len(rows) > size:
        last = rows[size - 1]
        page.next = f"{last['received_at']}{CURSOR_SEPARATOR}{last['event_id']}"
    return page
