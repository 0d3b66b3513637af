"""Show a capture's body: its exact bytes, its encoding, its text and its form fields.

The receiver keeps a UTF-8 body as text and any other body as base64
(``body_encoding``); ``body_bytes`` undoes that. For people, bytes that are
not UTF-8 are written as ``\\xff`` escapes, so the text shows every byte and
never hides one. Failure policy: a hand-made record whose body cannot be
decoded yields a ``BodyView`` that says so; nothing here raises for a record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from receiver.capture.decode import FORM_TYPE, media_type
from receiver.capture.record import BASE64, BodyError, body_bytes
from receiver.store.text import safe_str

UTF8 = "utf-8"
MAX_FORM_FIELDS = 100  # a form of millions of fields shows its first hundred
FORM_SEPARATOR = "&"
ESCAPE_BYTES = "backslashreplace"  # a byte that is not UTF-8 shows as \xff, never as a silent U+FFFD


@dataclass
class BodyView:
    """Hold what a person needs to see of a body; ``raw`` is the exact bytes (None when undecodable)."""

    raw: bytes | None
    encoding: str  # utf-8, or base64 when the receiver stored bytes that are not UTF-8
    text: str
    is_utf8: bool
    error: str | None = None
    form: list[tuple[str, str]] = field(default_factory=list)
    more_fields: bool = False


def shown_body(record: dict[str, Any]) -> str:
    """Return the body as a person sees it: bytes that are not UTF-8 as ``\\xff`` escapes."""
    try:
        return body_bytes(record).decode("utf-8", ESCAPE_BYTES)
    except BodyError:
        return f"{safe_str(record.get('body'))} (body_encoding {record.get('body_encoding')!r}: cannot decode it)"


def form_fields(text: str, limit: int = MAX_FORM_FIELDS) -> tuple[list[tuple[str, str]], bool]:
    """Return the first ``limit`` fields of a form body, percent-decoded, and whether more follow."""
    fields = []
    pairs = text.split(FORM_SEPARATOR, limit)  # at most limit + 1 pieces: no work for the fields not shown
    for pair in pairs[:limit]:
        if pair:
            name, _, value = pair.partition("=")
            fields.append((unquote_plus(name, errors=ESCAPE_BYTES), unquote_plus(value, errors=ESCAPE_BYTES)))
    return fields, len(pairs) > limit


def is_form(content_type: Any) -> bool:
    """Say whether a Content-Type value is a urlencoded form."""
    return isinstance(content_type, str) and media_type(content_type) == FORM_TYPE


def body_view(record: dict[str, Any]) -> BodyView:
    """Return the ``BodyView`` of a capture record."""
    encoding = BASE64 if record.get("body_encoding") == BASE64 else UTF8
    try:
        raw = body_bytes(record)
    except BodyError as exc:
        return BodyView(None, safe_str(record.get("body_encoding")), shown_body(record), False, safe_str(exc))
    try:
        raw.decode("utf-8")
        is_utf8 = True
    except UnicodeDecodeError:
        is_utf8 = False
    view = BodyView(raw, encoding, raw.decode("utf-8", ESCAPE_BYTES), is_utf8)
    if is_form(record.get("content_type")):
        view.form, view.more_fields = form_fields(view.text)
    return view
