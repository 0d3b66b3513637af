"""Decide what the worker makes of one capture: its events, or a reject with a reason.

Failure policy: any body, content type and payload a sender can choose ends
here as an ``Analysis`` or a ``Reject`` (a ``ValueError``), never as another
exception, and in time linear in the body. A ``Reject`` carries a short,
single-line reason that UTF-8 can encode, so it can be written to the rejects
file and returned to Redis as it is. Beyond what decoding and normalising
refuse, a capture is rejected when it holds more than ``DUMPER_MAX_EVENTS``
events, or when its payload or an event cannot be written as a JSON line (a
lone surrogate from a ``\\ud800`` escape): every event is encoded exactly as
the events file encodes it, so writing it cannot fail on its content.

Pure: no disk, no Redis, no settings read here; the caller passes them in.
"""

from typing import Any, NamedTuple

from receiver.capture.decode import DecodeError, decode_capture
from receiver.capture.normalise import NormaliseError, count_events, normalise
from receiver.core.jsonl import encode_line
from receiver.core.settings import DEFAULT_MAX_EVENTS, Settings

# Long enough for every reason the decoder and normaliser give, short enough for a table cell.
MAX_REASON_CHARS = 300
ELLIPSIS = "…"


def safe_reason(text: object) -> str:
    """Return ``text`` as one line of at most ``MAX_REASON_CHARS`` characters that UTF-8 can encode."""
    head = str(text)[: MAX_REASON_CHARS * 2]  # cut first: no work in proportion to a hostile reason
    line = " ".join(head.encode("utf-8", "backslashreplace").decode("utf-8").split())
    return line if len(line) <= MAX_REASON_CHARS else line[:MAX_REASON_CHARS] + ELLIPSIS


class Reject(ValueError):
    """The capture is bad input; ``reason`` says why in one safe line."""

    def __init__(self, reason: object) -> None:
        self.reason = safe_reason(reason)
        super().__init__(self.reason)


class Analysis(NamedTuple):
    """Hold the decoded payload, its normalised events and the distinct warnings, in order."""

    value: Any
    events: list[dict[str, Any]]
    warnings: list[str]
    lines: tuple[bytes, ...] = ()  # each event as its events-file line (``repeat_of`` null): encoded once, here


def check_writable(what: str, value: Any) -> None:
    """Raise ``Reject`` unless ``value`` encodes as a JSON line."""
    try:
        encode_line(value)
    except UnicodeEncodeError as exc:
        char = exc.object[exc.start : exc.start + 1].encode("utf-8", "backslashreplace").decode("ascii")
        raise Reject(f"{what}: a string holds a lone surrogate {char}, which UTF-8 cannot encode") from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise Reject(f"{what} cannot be written as JSON ({type(exc).__name__})") from None


def check_events(value: Any, events: list[dict[str, Any]]) -> tuple[bytes, ...]:
    """Return each event's JSON line; raise ``Reject`` unless every event and panel name of the payload encodes."""
    try:
        lines = tuple(encode_line(event) for event in events)  # the lines the worker writes: one encode each
    except (TypeError, ValueError, RecursionError):
        for index, event in enumerate(events):
            check_writable(f"event {index}", event)
        raise Reject("the events cannot be written as JSON lines") from None  # each alone can: never seen
    # The rest of the payload is its events, each the `raw` of one; only panel names, say of an
    # empty panel, are not in an event, and `show` prints them.
    if isinstance(value, dict):
        check_writable("panel names", list(value))
    return lines


def analyse_capture(capture: Any, settings: Settings | None = None) -> Analysis:
    """Return the ``Analysis`` of one capture record, or raise ``Reject`` with the reason."""
    max_events = DEFAULT_MAX_EVENTS if settings is None else settings.max_events
    try:
        decoded = decode_capture(capture)
        count = count_events(decoded.value)
        if count > max_events:
            raise Reject(f"{count} events, over DUMPER_MAX_EVENTS={max_events}")
        events = normalise(decoded.value, capture, decoded.warnings)
    except (DecodeError, NormaliseError) as exc:
        raise Reject(str(exc)) from None
    lines = check_events(decoded.value, events)
    warnings = list(dict.fromkeys([w for event in events for w in event["warnings"]] or decoded.warnings))
    return Analysis(decoded.value, events, warnings, lines)
