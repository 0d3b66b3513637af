"""Turn what a payload chose (channel, activity, reject reason) into a few fixed label values.

A label value that a sender can choose would let one hostile payload create
series without end in every Prometheus that scrapes us; so a channel outside
the ones the normaliser knows is ``other``, and a reject reason becomes the
kind of reason it starts with. Failure policy: never raises; anything
unknown is ``other``.
"""

from receiver.capture.normalise import CUSTOM_ACTIVITY, EMAIL_CHANNEL
from receiver.capture.vocabulary import ACTIVITY_WORDS, WEBHOOK_CHANNELS

NONE = "none"  # the event has no channel (or activity): the normaliser warned
OTHER = "other"
CHANNELS = frozenset({*WEBHOOK_CHANNELS.values(), EMAIL_CHANNEL, CUSTOM_ACTIVITY})
ACTIVITIES = frozenset(ACTIVITY_WORDS.values())
# The reasons receiver/capture/ gives (decode.py, normalise.py, analyse.py), by the words they start with or hold.
REASON_KINDS = (
    ("capture has no text body", "no_body"),
    ("unknown body_encoding", "bad_encoding"),
    ("body_encoding is base64", "bad_encoding"),
    ("body is not valid UTF-8", "not_utf8"),
    ("form field 'data' is not valid UTF-8", "not_utf8"),
    ("empty JSON document", "empty_json"),
    ("invalid JSON", "invalid_json"),
    ("form body has no 'data' field", "no_data_field"),
    ("form field 'data' is empty", "empty_data_field"),
    ("empty body", "empty_body"),
    ("capture content_type", "content_type"),
    ("unexpected content type", "content_type"),
    ("panel ", "not_events"),
    ("payload is ", "not_events"),
    ("event ", "not_events"),
    ("the events cannot be written", "not_writable"),
    ("panel names", "not_writable"),
)


def channel(value: object) -> str:
    """Return the channel label of an event's ``channel`` field."""
    if value is None:
        return NONE
    return value if isinstance(value, str) and value in CHANNELS else OTHER


def activity(value: object) -> str:
    """Return the activity label of an event's ``activity`` field."""
    if value is None:
        return NONE
    return value if isinstance(value, str) and value in ACTIVITIES else OTHER


def reason(text: str) -> str:
    """Return the kind of a reject reason, e.g. ``invalid_json`` for ``invalid JSON: Expecting value…``."""
    if " events, over DUMPER_MAX_EVENTS=" in text:
        return "too_many_events"
    if "cannot be written as JSON" in text or "lone surrogate" in text:
        return "not_writable"
    for start, kind in REASON_KINDS:
        if text.startswith(start):
            return kind
    return OTHER
