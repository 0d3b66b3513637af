"""Give every event a stable ``event_id``, the key the worker deduplicates on.

Failure policy: never raises on a decoded JSON payload; every event gets an id.

The rule: the Smartech ``guid`` when the event has one (a non-empty string or
a number, at most ``MAX_GUID_CHARS`` characters); otherwise ``h:`` and a hash
of the event as sent (its canonical JSON: sorted keys, compact, ASCII) with
the capture's ``source`` and the event's panel. So the same batch delivered
again, in any capture, gets the same ids, and two different events never
share one. Identical events within one capture stay distinct: the 2nd, 3rd…
gets ``:2``, ``:3``… appended, in payload order.
"""

import hashlib
import json
from collections import Counter
from typing import Any

# A Smartech guid is a 36-character UUID; a longer one would be an unbounded Redis key, so it gets a hash id.
MAX_GUID_CHARS = 256
HASH_ID_PREFIX = "h:"
# 128 bits of SHA-256: no collision between different events in any realistic number of them.
HASH_ID_HEX_CHARS = 32


def guid_id(guid: object) -> str | None:
    """Return the event id a Smartech ``guid`` gives (a non-empty string or a number), or None."""
    if isinstance(guid, (int, float)) and not isinstance(guid, bool):
        return str(guid)
    if isinstance(guid, str) and guid.strip():
        return guid
    return None


def content_id(source: object, panel: str | None, event: Any) -> str:
    """Return the hash id of an event: its canonical JSON with the capture's source and its panel."""
    # One JSON array, so no choice of source, panel or event text can be mistaken for another.
    canonical = json.dumps([source, panel, event], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HASH_ID_PREFIX + hashlib.sha256(canonical.encode("ascii")).hexdigest()[:HASH_ID_HEX_CHARS]


class EventIds:
    """Hand out the hash ids of one capture's events, numbering repeats of an identical event."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.occurrences: Counter[str] = Counter()

    def next_id(self, panel: str | None, event: Any) -> str:
        """Return the id of the next event without a usable guid."""
        digest = content_id(self.source, panel, event)
        self.occurrences[digest] += 1
        count = self.occurrences[digest]
        return digest if count == 1 else f"{digest}:{count}"
