"""Read channels and activities out of Smartech webhook names and Email API event words.

Failure policy: never raises; a name or word that does not fit gives None, and
the caller adds a warning. Only string methods are used, each linear in its
input, and words longer than ``MAX_ACTIVITY_CHARS`` are not read at all: a
regular expression here once backtracked for the whole job timeout on a
webhook name of a few hundred thousand spaces.
"""

WEBHOOK_CHANNELS = {"sms": "sms", "email": "email", "apn": "apn", "bpn": "bpn"}
WEBHOOK_NAME_SEPARATOR = "_"
ACTIVITY_FILLERS = ("_", "-")
# Longer than any activity word with its separators: a longer one is unknown without reading it all.
MAX_ACTIVITY_CHARS = 64
ACTIVITY_WORDS = {
    "click": "click",
    "clicked": "click",
    "open": "open",
    "opened": "open",
    "bounce": "bounce",
    "bounced": "bounce",
    "hardbounce": "bounce",
    "softbounce": "bounce",
    "delivered": "delivered",
    "view": "view",
    "viewed": "view",
    "sent": "sent",
    "dropped": "dropped",
    "spam": "spam",
    "unsubscribe": "unsubscribe",
    "unsubscribed": "unsubscribe",
    "invalid": "invalid",
}


def activity_word(word: object) -> str | None:
    """Map an activity word (any case, ``_``/``-``/spaces ignored) to the shared vocabulary."""
    if not isinstance(word, str) or len(word) > MAX_ACTIVITY_CHARS:
        return None
    key = "".join(word.split())
    for filler in ACTIVITY_FILLERS:
        key = key.replace(filler, "")
    return ACTIVITY_WORDS.get(key.lower())


def split_webhook_name(name: str | None) -> tuple[str, str] | None:
    """Return ``(prefix, rest)`` of a webhook name like ``SMS_CLICK`` (prefix ASCII letters), or None."""
    prefix, separator, rest = (name or "").strip().partition(WEBHOOK_NAME_SEPARATOR)
    if not separator or not rest or not prefix.isascii() or not prefix.isalpha():
        return None
    return prefix, rest
