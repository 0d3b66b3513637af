"""Parse JSON text strictly, keeping what the sender wrote and noting what a plain parser would hide.

Failure policy: text that is not standard JSON, or that no reader could write
back faithfully, raises ``JsonError`` with a short reason: NaN and Infinity,
floats that overflow, numbers of more than ``MAX_NUMBER_DIGITS`` digits, and
nesting deeper than ``MAX_JSON_DEPTH``. Everything else parses, in time linear
in the text, and what a plain ``json.loads`` would silently change becomes a
note (a warning for the caller) or is kept as sent:

- Integers stay exact (the Email API's TRANSID exceeds 2**53).
- ``-0`` becomes the float ``-0.0``: a Python int has no negative zero, and
  the float keeps both the value and the sign that was sent.
- A non-zero float that underflows to zero (``1e-400``) is kept as its exact
  text, a JSON string, with a note; other floats are IEEE doubles, as in any
  JSON reader.
- A duplicated key keeps its last value, with a note naming the key; in the
  top-level object, a key whose every value is an array (a Smartech panel sent
  twice in one payload) keeps all the arrays, concatenated in order.
"""

import json
import math
from typing import Any, NoReturn

# Far above any Smartech payload, far below the recursion limit the JSONL writer hits.
MAX_JSON_DEPTH = 200
# An Email API TRANSID has 19-20 digits; 100 leaves room for any id while keeping int/str conversions trivial.
MAX_NUMBER_DIGITS = 100
# Enough to name what is odd in a real payload; a hostile one gets a count instead of millions of notes.
MAX_NOTES = 10
PREVIEW_CHARS = 40
NON_ZERO_DIGITS = frozenset("123456789")
CONTAINER_TYPES = frozenset((dict, list))  # exactly what the parser builds
EXPONENT_MARK = "e"


class JsonError(ValueError):
    """The text is not JSON that can be read and written back faithfully."""


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """Return ``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def digit_count(text: str) -> int:
    """Return how many decimal digits a JSON number literal holds."""
    return sum(ch.isdigit() for ch in text)


def check_digits(text: str) -> None:
    """Refuse a number literal of more than ``MAX_NUMBER_DIGITS`` digits."""
    # len() first: the count only runs on literals that could be over the cap.
    if len(text) > MAX_NUMBER_DIGITS and digit_count(text) > MAX_NUMBER_DIGITS:
        raise JsonError(f"number of {digit_count(text)} digits, over the limit of {MAX_NUMBER_DIGITS}: {preview(text)}")


def refuse_constant(name: str) -> NoReturn:
    """Refuse the non-standard JSON constants NaN, Infinity and -Infinity."""
    raise JsonError(f"non-standard constant {name}")


def json_depth(value: Any, limit: int | None = None) -> int:
    """Return how deeply arrays and objects nest in ``value`` (at most ``limit`` + 1), without recursing."""
    # Level by level with list comprehensions: about ten times faster than a stack of (item, depth)
    # tuples on a 10 MB body of millions of tiny arrays.
    depth, level = 0, [value]
    while True:
        containers = [item for item in level if type(item) in CONTAINER_TYPES]
        if not containers or (limit is not None and depth > limit):
            return depth
        depth += 1
        level = [child for item in containers for child in (item.values() if type(item) is dict else item)]


class JsonReader:
    """Parse one JSON text with hooks that keep numbers faithful and notice duplicate keys."""

    def __init__(self) -> None:
        self.notes: dict[str, None] = {}  # note text -> None: distinct notes in order
        self.hidden = 0  # notes left out over MAX_NOTES
        # (object, pairs, duplicated keys) of the last object that had duplicates
        self.pending: tuple[dict[str, Any], list[tuple[str, Any]], list[str]] | None = None
        self.decoder = json.JSONDecoder(
            parse_int=self.integer, parse_float=self.real, parse_constant=refuse_constant, object_pairs_hook=self.object
        )

    def note(self, text: str) -> None:
        """Add a note once, counting instead of adding once there are ``MAX_NOTES``."""
        if text in self.notes:
            return
        if len(self.notes) >= MAX_NOTES:
            self.hidden += 1
        else:
            self.notes[text] = None

    def integer(self, text: str) -> int | float:
        """Return an integer literal exactly; ``-0`` as ``-0.0`` so its sign survives."""
        check_digits(text)
        return -0.0 if text == "-0" else int(text)

    def real(self, text: str) -> float | str:
        """Return a float literal as a float, or as its text when the float would turn it into zero."""
        check_digits(text)
        number = float(text)
        if not math.isfinite(number):
            raise JsonError(f"number out of range: {preview(text)}")
        mantissa = text.lower().partition(EXPONENT_MARK)[0]
        if number == 0.0 and not NON_ZERO_DIGITS.isdisjoint(mantissa):
            self.note(f"number {preview(text)} is too small for a float; kept as the string {preview(text)!r}")
            return text
        return number

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """Build a dict from ``pairs``, remembering duplicated keys until it is known not to be the top level."""
        value = dict(pairs)
        # The top-level object is the last one finished, so an earlier pending object is an inner one.
        self.flush()
        if len(value) < len(pairs):
            seen: set[str] = set()
            duplicated = []
            for key, _ in pairs:
                if key in seen:
                    duplicated.append(key)
                seen.add(key)
            self.pending = (value, pairs, list(dict.fromkeys(duplicated)))
        return value

    def flush(self) -> None:
        """Note the duplicated keys of the pending object: the last value of each was used."""
        if self.pending is not None:
            for key in self.pending[2]:
                self.note(f"duplicate key {preview(key)!r} in an object; the last value was used")
            self.pending = None

    def merge_top_level(self, value: Any) -> None:
        """Concatenate the arrays of a top-level key sent more than once, when every one of its values is an array."""
        if self.pending is None or self.pending[0] is not value:
            return
        _, pairs, duplicated = self.pending
        self.pending = None
        groups: dict[str, list[Any]] = {key: [] for key in duplicated}
        for key, item in pairs:
            if key in groups:
                groups[key].append(item)
        for key, items in groups.items():
            if all(isinstance(item, list) for item in items):
                value[key] = [event for item in items for event in item]
                self.note(f"duplicate panel {preview(key)!r}: kept the events of all {len(items)} of its arrays")
            else:
                self.note(f"duplicate key {preview(key)!r} in an object; the last value was used")

    def parse(self, text: str) -> tuple[Any, int, list[str]]:
        """Return ``(value, end, notes)`` for the JSON value at the start of ``text``."""
        try:
            value, end = self.decoder.raw_decode(text)
        except json.JSONDecodeError as exc:
            raise JsonError(str(exc)) from None
        except RecursionError:
            raise JsonError("nested too deeply") from None
        if json_depth(value, limit=MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise JsonError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        self.merge_top_level(value)
        self.flush()
        notes = list(self.notes)
        if self.hidden:
            notes.append(f"… and {self.hidden} more warnings of the JSON parser")
        return value, end, notes


def parse_leading(text: str) -> tuple[Any, int, list[str]]:
    """Return ``(value, end, notes)`` for the JSON value at the start of ``text``, or raise ``JsonError``."""
    return JsonReader().parse(text)
