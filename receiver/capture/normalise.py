"""Turn a decoded Smartech or Netcore Email API payload into flat event dicts.

Failure policy: a payload whose shape is wrong (a top-level scalar, a panel
that is not a list, an event that is not an object) raises ``NormaliseError``
so the whole capture is rejected. An empty payload (``[]``, ``{}``, a panel
with no events) is not an error: it yields no events. Inside a well-shaped
event nothing raises: an unknown activity or an unparsable timestamp becomes
``None`` plus a warning on that event, and ``raw`` always keeps the original.

Time is linear in the payload: names and words are read with string methods
(``receiver.capture.vocabulary``), never a regular expression, and previews of sent
values are cut before ``repr`` does any work on them.

Event ids follow ``receiver.capture.eventid``: the Smartech ``guid``, else the capture's
id and the event's position in it; ``repeat_of`` is left null for the ledger
to fill (``receiver.ledger.repeats``).

Timestamps: Smartech's ``ts`` is ``yymmddHHMMSS`` with no zone, so ``ts`` is a
naive ISO 8601 string (``2018-12-12T12:07:08``) in whatever zone the panel
uses. The Email API's ``TIMESTAMP`` is Unix seconds, so ``ts`` is UTC with a
``Z`` suffix.
"""

import reprlib
from collections.abc import Iterable
from typing import Any

from receiver.capture.eventid import MAX_GUID_CHARS, guid_id, hash_ids, position_id
from receiver.capture.timestamps import parse_smartech_ts, parse_unix_ts
from receiver.capture.vocabulary import WEBHOOK_CHANNELS, activity_word, split_webhook_name

EVENT_FIELDS = (
    "event_id",
    "repeat_of",
    "capture_id",
    "source",
    "received_at",
    "panel",
    "webhook_name",
    "channel",
    "activity",
    "foreignkey",
    "identity",
    "journey_name",
    "msgid",
    "ts",
    "ts_raw",
    "custom_params",
    "att_params",
    "payload_params",
    "raw",
    "warnings",
)
EMAIL_CHANNEL = "email"
CUSTOM_ACTIVITY = "custom_activity"
PREVIEW_CHARS = 60
# repr of a nested value stops after a few items and levels, however big the value.
SHORT_REPR = reprlib.Repr()
SHORT_REPR.maxlevel, SHORT_REPR.maxstring, SHORT_REPR.maxother = 3, PREVIEW_CHARS, PREVIEW_CHARS
JSON_TYPE_NAMES = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}


class NormaliseError(ValueError):
    """The payload does not have the shape of Smartech or Email API events."""


def preview(value: object) -> str:
    """Return ``repr(value)`` cut to a readable length for a warning."""
    if isinstance(value, str):
        text = repr(value[: PREVIEW_CHARS + 1])  # enough to fill the preview, and never a MB-long repr
    else:
        text = repr(value) if isinstance(value, (int, float, bool, type(None))) else SHORT_REPR.repr(value)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def type_name(value: object) -> str:
    """Return the JSON name of ``value``'s type with its article, like "an object"."""
    name = "null" if value is None else JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    return ("an " if name[0] in "aeiou" else "a ") + name


def split_payload(value: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """Return ``(panel, event)`` pairs in payload order, or raise ``NormaliseError``."""
    pairs: list[tuple[str | None, Any]]
    if isinstance(value, list):
        pairs = [(None, item) for item in value]
        where = "top-level array"
    elif isinstance(value, dict):
        pairs = []
        for panel, items in value.items():
            if not isinstance(items, list):
                raise NormaliseError(f"panel {preview(panel)} holds {type_name(items)}, expected an array of events")
            pairs.extend((panel, item) for item in items)
        where = "panel"
    else:
        raise NormaliseError(f"payload is {type_name(value)}, expected an object of panels or an array of events")
    for index, (panel, item) in enumerate(pairs):
        if not isinstance(item, dict):
            place = where if panel is None else f"{where} {preview(panel)}"
            raise NormaliseError(f"event {index} in {place} is {type_name(item)}, expected an object")
    return pairs


def pick(mapping: object, *names: str) -> Any:
    """Return the first of ``names`` present (not None) in ``mapping``, else None."""
    for name in names:
        if isinstance(mapping, dict) and mapping.get(name) is not None:
            return mapping[name]
    return None


def param(params: dict[str, Any] | None, event: dict[str, Any], name: str) -> Any:
    """Return ``event_params[name]``, falling back to the event's top-level ``name``."""
    return pick(params, name) if pick(params, name) is not None else event.get(name)


def channel_name(value: object) -> str | None:
    """Return a channel value lower-cased and stripped, or None when empty."""
    text = str(value).strip().lower() if value is not None else ""
    return text or None


def base_event(capture: dict[str, Any], panel: str | None, event: dict[str, Any]) -> dict[str, Any]:
    """Return an event dict with every field present, filled from the capture."""
    record: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
    record.update(
        capture_id=capture.get("id"),
        source=capture.get("source"),
        received_at=capture.get("received_at"),
        panel=panel,
        raw=event,
        warnings=[],
    )
    return record


def smartech_event(record: dict[str, Any], event: dict[str, Any]) -> None:
    """Fill ``record`` from a Smartech panel event (channel activity or web activity)."""
    warnings = record["warnings"]
    params = event.get("event_params")
    if params is not None and not isinstance(params, dict):
        warnings.append(f"event_params is {type_name(params)}, expected an object")
        params = None
    name = event.get("webhook_name")
    if name is not None and not isinstance(name, str):
        warnings.append(f"webhook_name is {type_name(name)}, expected a string")
        name = None
    record["webhook_name"] = name
    parts = split_webhook_name(name)
    prefix = WEBHOOK_CHANNELS.get(parts[0].lower()) if parts else None
    record["channel"] = (
        channel_name(pick(event.get("custom_params"), "channel")) or channel_name(event.get("channel")) or prefix
    )
    if record["channel"] is None:
        warnings.append(f"cannot tell the channel of webhook_name {preview(name)}")
    if prefix and parts:  # parts is never None when prefix is set
        record["activity"] = activity_word(parts[1])
        if record["activity"] is None:
            warnings.append(f"unknown activity {preview(parts[1])} in webhook_name {preview(name)}")
    elif record["channel"] != CUSTOM_ACTIVITY:
        warnings.append(f"cannot tell the activity from webhook_name {preview(name)}")
    record["event_id"] = guid_id(param(params, event, "guid"))
    if record["event_id"] is not None and len(record["event_id"]) > MAX_GUID_CHARS:
        warnings.append(f"guid longer than {MAX_GUID_CHARS} characters; the event id is its place in the capture")
        record["event_id"] = None
    record["foreignkey"] = param(params, event, "foreignkey")
    record["identity"] = param(params, event, "identity")
    record["journey_name"] = event.get("journey_name")
    record["msgid"] = event.get("msgid")
    raw_ts = record["ts_raw"] = param(params, event, "ts")
    if raw_ts is not None:
        record["ts"] = parse_smartech_ts(raw_ts)
        if record["ts"] is None:
            warnings.append(f"unparsable ts {preview(raw_ts)}, expected yymmddHHMMSS")
    for field in ("custom_params", "att_params", "payload_params"):
        record[field] = event.get(field)


def email_api_event(record: dict[str, Any], event: dict[str, Any]) -> None:
    """Fill ``record`` from a Netcore Email API event (upper-case keys, lower-case accepted)."""
    warnings = record["warnings"]
    record["channel"] = EMAIL_CHANNEL
    kind = pick(event, "EVENT", "event")
    if kind is None:
        warnings.append("Email API event has no EVENT")
    else:
        record["activity"] = activity_word(kind)
        if record["activity"] is None:
            warnings.append(f"unknown Email API EVENT {preview(kind)}")
    raw_ts = pick(event, "TIMESTAMP", "timestamp")
    record["identity"] = pick(event, "EMAIL", "email")
    record["ts_raw"] = raw_ts
    if raw_ts is not None:
        record["ts"] = parse_unix_ts(raw_ts)
        if record["ts"] is None:
            warnings.append(f"unparsable TIMESTAMP {preview(raw_ts)}, expected Unix seconds")


def count_events(value: Any) -> int:
    """Return how many events a decoded payload holds, before normalising any (shapes are checked later)."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        return sum(len(items) for items in value.values() if isinstance(items, list))
    return 0


def normalise(value: Any, capture: Any, warnings: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Return the events of a decoded payload, each carrying ``warnings`` plus its own."""
    capture = capture if isinstance(capture, dict) else {}
    events = []
    for position, (panel, event) in enumerate(split_payload(value)):
        record = base_event(capture, panel, event)
        if panel is None:
            email_api_event(record, event)
        else:
            smartech_event(record, event)
        if record["event_id"] is None:
            # No guid: this delivery's place is the event's identity (a repeated open is a new event).
            record["event_id"] = position_id(capture.get("id"), position)
        record["warnings"] = list(warnings) + record["warnings"]
        events.append(record)
    unplaced = [record for record in events if record["event_id"] is None]  # a hand-made capture without an id
    for record, hashed in zip(unplaced, hash_ids(capture.get("source"), [(r["panel"], r["raw"]) for r in unplaced])):
        record["event_id"] = hashed
    return events
