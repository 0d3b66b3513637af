"""Redact a customer's values in the bytes of a data file, keeping every line's length: offsets stay valid.

A value is searched in every spelling a data file can hold it in: as sent,
JSON-escaped (once, and twice: a JSON body inside a capture line), and
percent-encoded (a form body, ``quote`` and ``quote_plus``, of the plain and
the JSON-escaped text). Each byte of a spelling found becomes ``*``, so a line
keeps its length and the file every offset into it (the forwarder's cursor,
the ledger's rows, a capture's position). A line where a value was a bare JSON
number (``"foreignkey":9999999997``) and no longer parses gets ``1000…`` of the
same length instead, which parses.

Failure policy: pure functions over bytes; nothing raises for any input.
"""

import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

FILL = b"*"
MIN_TERM = 3  # shorter values (an initial, "NA") are everywhere: never searched for
KEPT_FIELDS = ("id", "capture_id", "event_id", "received_at", "repeat_of", "rejected_at", "found_at")


def escaped(text: str, ascii_only: bool) -> str:
    """Return ``text`` as it stands inside a JSON string."""
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def spellings(terms: Iterable[str]) -> list[bytes]:
    """Return every byte spelling of ``terms`` a data file can hold, longest first."""
    found: set[str] = set()
    for term in terms:
        term = term.strip()
        if len(term) < MIN_TERM:
            continue
        forms = {term, escaped(term, False), escaped(term, True)}
        forms |= {escaped(form, ascii_only) for form in list(forms) for ascii_only in (False, True)}
        forms |= {encode(form, safe="") for form in list(forms) for encode in (quote, quote_plus)}
        found |= forms
    return sorted((form.encode("utf-8", "surrogatepass") for form in found), key=len, reverse=True)


def names(line: bytes, forms: list[bytes]) -> bool:
    """Say whether ``line`` holds any of ``forms``."""
    return any(form in line for form in forms)


def blank(line: bytes, forms: list[bytes], numbers: bool = False) -> bytes:
    """Return ``line`` with each of ``forms`` overwritten by ``*`` (digits by ``1000…`` with ``numbers``)."""
    for form in forms:
        if form in line:
            fill = b"1" + b"0" * (len(form) - 1) if numbers and form.isdigit() else FILL * len(form)
            line = line.replace(form, fill)
    return line


def is_json(line: bytes) -> bool:
    """Say whether ``line`` is one JSON value."""
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def kept(line: bytes) -> list[bytes]:
    """Return the values of a JSON line that point into the files and must never change (ids, times)."""
    try:
        record = json.loads(line)
    except ValueError:
        return []
    if not isinstance(record, dict):
        return []
    return [str(record[name]).encode("utf-8", "surrogatepass") for name in KEPT_FIELDS if record.get(name) is not None]


def redact_line(line: bytes, forms: list[bytes]) -> bytes:
    """Return ``line`` with ``forms`` blanked, the same length; a JSON line stays JSON when it can.

    A spelling found inside a line's own ids or times (``KEPT_FIELDS``: a short value can be part of a
    capture id) is left alone there: those are what the cursor and the ledger find lines by.
    """
    protected = kept(line)
    forms = [form for form in forms if not any(form in value for value in protected)]
    done = blank(line, forms)
    if done != line and not is_json(done) and is_json(line):
        done = blank(line, forms, numbers=True)
    return done


def redact_lines(data: bytes, ids: list[bytes], terms: list[bytes]) -> tuple[bytes, int]:
    """Return ``data`` with ``terms`` blanked in each line that names one of ``ids``, and how many lines changed."""
    if not names(data, ids):
        return data, 0
    lines = data.split(b"\n")
    changed = 0
    for number, line in enumerate(lines):
        if names(line, ids):
            lines[number] = redact_line(line, terms)
            changed += lines[number] != line
    return b"\n".join(lines), changed
