"""Turn a capture record's body into one parsed JSON value plus warnings.

Failure policy: anything that makes the payload unreadable (a body that is not
UTF-8, an unexpected content type, an empty body, a form without a ``data``
field, invalid JSON, JSON nested deeper than ``MAX_JSON_DEPTH``, a number of
more than ``MAX_NUMBER_DIGITS`` digits) raises ``DecodeError`` with a short
reason that is safe to store in a reject record. Oddities that still leave a
usable value (text after the JSON, a form body that is really raw JSON, a
duplicated key, a float that underflows) become warnings instead. Every step
is linear in the body: no regular expression, and no search in a growing list.

How numbers and duplicate keys are kept is the JSON parser's rule, see
``receiver.capture.jsonparse``.
"""

from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from receiver.capture.jsonparse import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS, JsonError, parse_leading, preview
from receiver.capture.record import BodyError, body_text

__all__ = ["MAX_JSON_DEPTH", "MAX_NUMBER_DIGITS", "DecodeError", "Decoded", "decode_capture", "preview"]

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
JSON_SUFFIX = "+json"
DATA_FIELD = "data"
BOM = "\ufeff"
QUOTE = '"'
JSON_OPENERS = ("{", "[")
FORM_SEPARATOR = "&"
PERCENT = "%"
MAX_LISTED_FIELDS = 5
RAW_JSON_WARNING = "form body has no 'data' field but is raw JSON; parsed it as JSON"


class DecodeError(ValueError):
    """The capture's body cannot be turned into a JSON value."""


class Decoded(NamedTuple):
    """Hold the parsed JSON value and the warnings raised while decoding it."""

    value: Any
    warnings: list[str]


def media_type(content_type: str | None) -> str:
    """Return the lower-cased media type of a Content-Type value, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(kind: str) -> bool:
    """Say whether a media type is JSON (``application/json`` or a ``+json`` type)."""
    return kind == JSON_TYPE or kind.endswith(JSON_SUFFIX)


def looks_like_json(text: str) -> bool:
    """Say whether ``text`` starts like a JSON object or array."""
    return text.lstrip(BOM + " \t\r\n").startswith(JSON_OPENERS)


def parse_json(text: str) -> tuple[Any, list[str]]:
    """Parse the leading JSON value of ``text``; return it with warnings about trailing text and oddities."""
    stripped = text.lstrip(BOM).strip()
    if not stripped:
        raise DecodeError("empty JSON document")
    try:
        value, end, warnings = parse_leading(stripped)
    except JsonError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    trailing = stripped[end:].strip()
    if trailing:
        warnings.append(f"trailing text after JSON: {preview(trailing)!r}")
    return value, warnings


def field_name(raw_name: str) -> str:
    """Return a form field's decoded name; names without ``%`` skip the decoder (a body may hold millions)."""
    if PERCENT not in raw_name:
        return raw_name.replace("+", " ")
    return unquote_plus(raw_name, encoding="utf-8", errors="replace")


def form_data_values(body: str) -> list[str]:
    """Return the decoded ``data`` values of a form body, unwrapping literal double quotes."""
    values = []
    for pair in body.split(FORM_SEPARATOR):
        raw_name, _, raw_value = pair.partition("=")
        # Decode the (short) name first: the value, often tens of KB, is decoded once, and only for `data`.
        if field_name(raw_name) != DATA_FIELD:
            continue
        try:
            value = unquote_plus(raw_value, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"form field 'data' is not valid UTF-8 once percent-decoded: {exc.reason}") from None
        if len(raw_value) >= 2 and raw_value[0] == QUOTE and raw_value[-1] == QUOTE:
            # Smartech's cURL samples send data="%7B...%7D": the quotes are literal.
            value = value[1:-1]
        values.append(value)
    return values


def form_field_names(body: str) -> str:
    """Return a short, comma-separated list of the form's field names, for a reject reason."""
    names: dict[str, None] = {}  # a set that keeps the order
    for pair in body.split(FORM_SEPARATOR):
        raw_name = pair.partition("=")[0]
        if pair:  # as parse_qsl: an empty pair is no field
            names[field_name(raw_name)] = None
        if len(names) > MAX_LISTED_FIELDS:
            break  # a set, not a list, and an early stop: a body may hold millions of distinct names
    shown = ", ".join(repr(preview(n)) for n in list(names)[:MAX_LISTED_FIELDS])
    return shown + (", …" if len(names) > MAX_LISTED_FIELDS else "") if names else "none"


def decode_form(body: str) -> tuple[Any, list[str]]:
    """Return the parsed JSON of a form body's ``data`` field (or of a raw JSON body), with warnings."""
    json_error: DecodeError | None = None
    if looks_like_json(body):
        # No real form field name starts with { or [: this is raw JSON under a form content type.
        try:
            value, warnings = parse_json(body)
        except DecodeError as exc:
            json_error = exc
        else:
            return value, [RAW_JSON_WARNING] + warnings
    values = form_data_values(body)
    if not values:
        raise json_error or DecodeError(f"form body has no 'data' field (fields: {form_field_names(body)})")
    warnings = []
    if len(values) > 1:
        warnings.append(f"form body has {len(values)} 'data' fields; used the first")
    if not values[0].strip():
        raise DecodeError("form field 'data' is empty")
    value, json_warnings = parse_json(values[0])
    return value, warnings + json_warnings


def decode_capture(capture: Any) -> Decoded:
    """Return the capture's payload as ``Decoded(value, warnings)`` or raise ``DecodeError``."""
    if not isinstance(capture, dict):
        raise DecodeError("capture has no text body")
    try:
        body = body_text(capture)
    except BodyError as exc:
        raise DecodeError(str(exc)) from None
    if not body.lstrip(BOM).strip():
        raise DecodeError("empty body")
    content_type = capture.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise DecodeError("capture content_type is not text")  # the receiver never writes one; a hand-made record may
    kind = media_type(content_type)
    if kind == FORM_TYPE:
        value, warnings = decode_form(body)
    elif is_json_type(kind):
        value, warnings = parse_json(body)
    elif not kind:
        raise DecodeError("unexpected content type: none given")
    else:
        raise DecodeError(f"unexpected content type {preview(str(content_type).strip())!r}")
    return Decoded(value, warnings)
