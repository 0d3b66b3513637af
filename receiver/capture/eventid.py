"""Give every event its ``event_id``: one id per delivery, the key the worker writes it once by.

Failure policy: never raises on a decoded JSON payload; every event gets an id.

The rule (``docs/formats.md``, "event_id"): two events are the same only when
they come from the same capture at the same position (the capture processed
again, for any reason), or when they carry the same Smartech ``guid``.

- An event with a usable ``guid`` (a non-empty string or a number, at most
  ``MAX_GUID_CHARS`` characters) has that guid as its id.
- Any other event (every channel event of the vendor page, every Netcore
  Email API event) has ``c:<capture id>:<position>``, the position being its
  0-based index in payload order. Smartech's channel events carry no guid and
  no time, so a customer's second open is byte for byte the first: it is a new
  event, in a capture of its own. The Email API's fields (``TRANSID`` names the
  mail, shared by all its opens and clicks; ``TIMESTAMP`` is whole seconds)
  cannot tell two clicks on one link in one second apart either, so they get
  the same rule. Identical content in another capture is marked, never merged:
  ``repeat_of`` (``receiver.ledger.repeats``).

``content_id`` is the hash of an event as sent, with its capture's source and
its panel: the key ``repeat_of`` is found by. ``legacy_ids`` gives the ids of
the rule before this one (that hash, ``:2``, ``:3``… for repeats within a
capture), so a capture processed under it writes nothing new (``receiver.ledger.upgrade``).
"""

import hashlib
import json
from collections import Counter
from typing import Any

# A Smartech guid is a 36-character UUID; a longer one would be an unbounded Redis key, so it gets no guid id.
MAX_GUID_CHARS = 256
HASH_ID_PREFIX = "h:"
CAPTURE_ID_PREFIX = "c:"
# 128 bits of SHA-256: no collision between different events in any realistic number of them.
HASH_ID_HEX_CHARS = 32


def guid_id(guid: object) -> str | None:
    """Return the event id a Smartech ``guid`` gives (a non-empty string or a number), or None."""
    if isinstance(guid, (int, float)) and not isinstance(guid, bool):
        return str(guid)
    if isinstance(guid, str) and guid.strip():
        return guid
    return None


def content_id(source: object, panel: object, event: Any) -> str:
    """Return the hash of an event as sent: its canonical JSON with the capture's source and its panel."""
    # One JSON array, so no choice of source, panel or event text can be mistaken for another.
    canonical = json.dumps([source, panel, event], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HASH_ID_PREFIX + hashlib.sha256(canonical.encode("ascii")).hexdigest()[:HASH_ID_HEX_CHARS]


def position_id(capture_id: object, position: int) -> str | None:
    """Return the id of the event at ``position`` of capture ``capture_id``, or None without a usable capture id."""
    if isinstance(capture_id, str) and capture_id:
        return f"{CAPTURE_ID_PREFIX}{capture_id}:{position}"
    return None


def numbered(digest: str, occurrences: Counter[str]) -> str:
    """Return ``digest``, or ``digest:N`` for its Nth occurrence counted in ``occurrences``."""
    occurrences[digest] += 1
    count = occurrences[digest]
    return digest if count == 1 else f"{digest}:{count}"


def hash_ids(source: object, pairs: list[tuple[str | None, Any]]) -> list[str]:
    """Return the hash ids of the rule before this one for ``(panel, event)`` pairs of one capture, in order."""
    occurrences: Counter[str] = Counter()
    return [numbered(content_id(source, panel, event), occurrences) for panel, event in pairs]


def legacy_ids(events: list[dict[str, Any]]) -> list[str | None]:
    """Return, for each normalised event of one capture in order, the id the old rule gave it, or None.

    The old rule hashed every event without a usable guid; those are the events whose id is their position.
    """
    guidless = [i for i, e in enumerate(events) if e.get("event_id") == position_id(e.get("capture_id"), i)]
    source = events[0].get("source") if events else None
    old = dict(zip(guidless, hash_ids(source, [(events[i].get("panel"), events[i].get("raw")) for i in guidless])))
    return [old.get(index) for index in range(len(events))]
