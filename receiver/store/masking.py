"""Show customer data masked: the values of the fields ``DUMPER_MASK_FIELDS`` names, wherever a view shows them.

A field matches when its name, with case, ``-``, ``_``, ``.`` and spaces
ignored, equals a listed name (``E-Mail``, ``EMAIL`` and ``e_mail`` all match
``email``), at any depth: a payload's keys, an event's fields, the keys inside
``att_params``, ``custom_params`` and ``raw``. Every scalar under a matching
key is masked, keeping a quarter of it (at most three characters) at each end:
``+919999999997`` shows as ``+91•••••••997``. The body as received is masked
in its text: a JSON body, the JSON in a form's ``data=`` field, form fields
and a query string named like a masked field. Masking is for showing only:
filters and searches run on the real values before anything is masked.

Failure policy: pure and total; a value it cannot read is shown masked whole
(``•••``), never raised.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from functools import cached_property
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from receiver.capture.record import BASE64
from receiver.core.parsers import parse_mask_fields
from receiver.core.settings import DEFAULT_MASK_FIELDS
from receiver.store.reading import Reading

Record = dict[str, Any]
DOT = "•"
KEEP_SHARE = 4  # a quarter of the value at each end ...
KEEP_MOST = 3  # ... and never more than three characters
IGNORED = re.compile(r"[\s_.\-]")
# One JSON member: "key": then a string or a number. Nested values are reached by their own members.
JSON_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+\-]*)')
MASK_VARIABLE = "DUMPER_MASK_FIELDS"
SURROGATES = "surrogateescape"  # bytes that are not UTF-8 survive masking unchanged


def field_key(name: str) -> str:
    """Return ``name`` as the matching rule compares it: lower case, without ``-``, ``_``, ``.`` and spaces."""
    return IGNORED.sub("", name).casefold()


def mask_text(text: str) -> str:
    """Return ``text`` with its middle replaced by dots: a quarter (at most 3 characters) kept at each end."""
    keep = min(KEEP_MOST, len(text) // KEEP_SHARE)
    if keep == 0:
        return DOT * max(len(text), 1)
    return text[:keep] + DOT * (len(text) - 2 * keep) + text[-keep:]


def mask_scalar(value: Any) -> Any:
    """Return a scalar masked as text; ``None`` and booleans say nothing about a customer and stay."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (str, int, float)):
        return mask_text(str(value))
    return DOT * KEEP_MOST


class Mask:
    """Mask the values of some fields in records, payloads, events and body texts."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.keys = frozenset(field_key(name) for name in fields)

    def names(self, key: Any) -> bool:
        """Say whether ``key`` names a masked field."""
        return isinstance(key, str) and field_key(key) in self.keys

    def tree(self, value: Any, masked: bool = False) -> Any:
        """Return a copy of a JSON value with every scalar under a masked key masked."""
        if isinstance(value, dict):
            return {key: self.tree(item, masked or self.names(key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.tree(item, masked) for item in value]
        return mask_scalar(value) if masked else value

    def json_text(self, text: str) -> str:
        """Return JSON text (or text holding JSON) with the string and number values of masked keys masked."""

        def member(match: re.Match[str]) -> str:
            key, colon, literal = match.groups()
            try:
                name = json.loads(f'"{key}"')
                value = json.loads(literal)
            except ValueError:
                return match.group(0) if not self.names(key) else f'"{key}"{colon}"{DOT * KEEP_MOST}"'
            if not self.names(name):
                return match.group(0)
            return f'"{key}"{colon}' + json.dumps(mask_scalar(value), ensure_ascii=False)

        return JSON_MEMBER.sub(member, text) if self.keys else text

    def form_text(self, text: str) -> str:
        """Return a form body or query string with masked fields, and masked keys inside JSON values, masked."""
        pairs = []
        for pair in text.split("&"):
            name, equals, value = pair.partition("=")
            decoded = unquote_plus(value, errors=SURROGATES)
            if equals and self.names(unquote_plus(name)):
                pairs.append(f"{name}={quote_plus(mask_text(decoded), errors=SURROGATES)}")
                continue
            shown = self.json_text(decoded) if '"' in decoded else decoded
            pairs.append(pair if shown == decoded else f"{name}={quote_plus(shown, errors=SURROGATES)}")
        return "&".join(pairs)

    def body_text(self, text: str) -> str:
        """Return a body's text masked: a form's fields and the JSON in them, or the JSON members of any body."""
        if not self.keys:
            return text
        if "=" in text and not text.lstrip().startswith(("{", "[")):
            return self.form_text(text)
        return self.json_text(text)

    def record(self, record: Record) -> Record:
        """Return a copy of a capture record with its body, query and any masked field of its own masked."""
        shown = self.tree(record)
        body = record.get("body")
        if isinstance(body, str) and record.get("body_encoding") == BASE64:
            try:
                text = base64.b64decode(body, validate=True).decode("utf-8", SURROGATES)
                shown["body"] = base64.b64encode(self.body_text(text).encode("utf-8", SURROGATES)).decode("ascii")
            except ValueError:
                shown["body"] = DOT * KEEP_MOST
        elif isinstance(body, str):
            shown["body"] = self.body_text(body)
        if isinstance(record.get("query"), str):
            shown["query"] = self.form_text(record["query"])
        return shown


class MaskedReading(Reading):
    """A ``Reading`` whose payload and events are shown masked; its status and fates are the real ones'."""

    def __init__(self, real: Reading, mask: Mask) -> None:
        super().__init__(real.record, real.data_dir)
        self.real = real
        self.mask = mask

    @cached_property
    def _result(self) -> tuple[Any, list[Record], list[str], str | None]:
        """Return the real analysis with its payload and events masked."""
        real = self.real
        return self.mask.tree(real.value), [self.mask.tree(e) for e in real.events], real.warnings, real.reason

    fates = property(lambda self: self.real.fates, doc="Return where each real event stands.")
    event_count = property(lambda self: self.real.event_count, doc="Return the real count of events.")


def masked_pair(record: Record, analysis: Reading, mask: Mask | None) -> tuple[Record, Reading]:
    """Return ``(record, analysis)`` as a view shows them: masked with ``mask``, as they are without one."""
    if mask is None or not mask.keys:
        return record, analysis
    return mask.record(record), MaskedReading(analysis, mask)


def environment_mask(unmask: bool = False) -> Mask | None:
    """Return the mask of ``DUMPER_MASK_FIELDS`` (unset or empty: the default list); None with ``unmask``."""
    if unmask:
        return None
    return Mask(parse_mask_fields(MASK_VARIABLE, os.environ.get(MASK_VARIABLE, "").strip() or DEFAULT_MASK_FIELDS))
