"""Turn a capture record's body into one parsed JSON value plus warnings.

Failure policy: anything that makes the payload unreadable (a body that is not
UTF-8, an unexpected content type, an empty body, a form without a ``data``
field, invalid JSON, JSON nested deeper than ``MAX_JSON_DEPTH``) raises
``DecodeError`` with a short reason that is safe to store in a reject record.
Oddities that still leave a usable value (text after the JSON, a form body
that is really raw JSON) become warnings instead.

Numbers keep Python's ``json`` behaviour: integers are exact at any size (the
Email API's TRANSID exceeds 2**53); NaN, Infinity and overflowing floats are
refused because they cannot be written back out as standard JSON.
"""
import base64
import binascii
import json
import math
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote_plus

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
JSON_SUFFIX = "+json"
DATA_FIELD = "data"
BASE64_ENCODING = "base64"
BOM = "\ufeff"
QUOTE = '"'
JSON_OPENERS = ("{", "[")
FORM_SEPARATOR = "&"
PREVIEW_CHARS = 40
MAX_LISTED_FIELDS = 5
# Far above any Smartech payload, far below the recursion limit the JSONL writer hits.
MAX_JSON_DEPTH = 200
RAW_JSON_WARNING = "form body has no 'data' field but is raw JSON; parsed it as JSON"


class DecodeError(ValueError):
    """The capture's body cannot be turned into a JSON value."""


class Decoded(NamedTuple):
    """Hold the parsed JSON value and the warnings raised while decoding it."""

    value: Any
    warnings: list


def preview(text, limit=PREVIEW_CHARS):
    """Return ``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def body_text(capture):
    """Return the capture's body as text, undoing the receiver's base64 for non-UTF-8 bodies."""
    if not isinstance(capture, dict) or not isinstance(capture.get("body"), str):
        raise DecodeError("capture has no text body")
    body, encoding = capture["body"], capture.get("body_encoding")
    if encoding is None:
        return body
    if encoding != BASE64_ENCODING:
        raise DecodeError(f"unknown body_encoding {preview(str(encoding))!r}")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("body_encoding is base64 but the body is not valid base64") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"body is not valid UTF-8 (byte {exc.start})") from None


def media_type(content_type):
    """Return the lower-cased media type of a Content-Type value, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(kind):
    """Say whether a media type is JSON (``application/json`` or a ``+json`` type)."""
    return kind == JSON_TYPE or kind.endswith(JSON_SUFFIX)


def looks_like_json(text):
    """Say whether ``text`` starts like a JSON object or array."""
    return text.lstrip(BOM + " \t\r\n").startswith(JSON_OPENERS)


def _reject_constant(name):
    """Refuse the non-standard JSON constants NaN, Infinity and -Infinity."""
    raise DecodeError(f"invalid JSON: non-standard constant {name}")


def _finite_float(text):
    """Parse a JSON float, refusing values that overflow to infinity."""
    number = float(text)
    if not math.isfinite(number):
        raise DecodeError(f"invalid JSON: number out of range: {preview(text)}")
    return number


DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def json_depth(value):
    """Return how deeply arrays and objects nest in ``value``, without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(text):
    """Parse the leading JSON value of ``text``; return it with warnings about trailing text."""
    stripped = text.lstrip(BOM).strip()
    if not stripped:
        raise DecodeError("empty JSON document")
    try:
        value, end = DECODER.raw_decode(stripped)
    except json.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise DecodeError("invalid JSON: nested too deeply") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise DecodeError(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    trailing = stripped[end:].strip()
    warnings = [f"trailing text after JSON: {preview(trailing)!r}"] if trailing else []
    return value, warnings


def form_data_values(body):
    """Return the decoded ``data`` values of a form body, unwrapping literal double quotes."""
    values = []
    for pair in body.split(FORM_SEPARATOR):
        raw_name, _, raw_value = pair.partition("=")
        # Decode the (short) name first: the value, often tens of KB, is decoded once, and only for `data`.
        if unquote_plus(raw_name, encoding="utf-8", errors="replace") != DATA_FIELD:
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


def form_field_names(body):
    """Return a short, comma-separated list of the form's field names, for a reject reason."""
    names = []
    for name, _ in parse_qsl(body, keep_blank_values=True, encoding="utf-8", errors="replace"):
        if name not in names:
            names.append(name)
    shown = ", ".join(repr(preview(n)) for n in names[:MAX_LISTED_FIELDS])
    return shown + (", …" if len(names) > MAX_LISTED_FIELDS else "") if names else "none"


def decode_form(body):
    """Return the parsed JSON of a form body's ``data`` field (or of a raw JSON body), with warnings."""
    json_error = None
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


def decode_capture(capture):
    """Return the capture's payload as ``Decoded(value, warnings)`` or raise ``DecodeError``."""
    body = body_text(capture)
    if not body.lstrip(BOM).strip():
        raise DecodeError("empty body")
    content_type = capture.get("content_type")
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
