"""Make text from payloads, records and error messages safe to show on a terminal, a web page or a pipe.

Payloads come from the internet. A terminal acts on C0 controls (ESC starts
``ESC]0;…BEL``, which sets the window title, or ``ESC[2J``, which clears the
screen), on DEL and on C1 controls (U+009B is a one-character CSI); bidi
overrides and other format characters reorder or hide text (U+202E shows
``exe.txt`` as ``txt.exe``); line and paragraph separators and lone
surrogates break lines or the UTF-8 encoder. ``escape`` replaces each such
character by a visible Python-style escape (``\\x1b``, ``\\x9b``, ``\\n``,
``\\u202e``); printable non-ASCII text (Hindi, accents, emoji) is left as is.
``json_text`` does the same inside JSON with JSON's own ``\\uXXXX`` escapes,
so the text stays valid JSON and decodes to the original values. The CLI prints
through it and the web inspector shows values through it (after HTML escaping),
so both show a payload the same way.
"""

import functools
import json
import math
import re
import unicodedata
from re import Match
from typing import Any

from receiver.store.text import safe_str

# Controls (C0, DEL, C1), format characters (bidi, zero-width, tags), surrogates, line/paragraph separators.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Zero-width (non-)joiners shape Indic scripts and emoji sequences: they are text, not tricks.
KEPT_FORMAT = frozenset({"\u200c", "\u200d"})
SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
MULTILINE_KEPT = frozenset("\n\t")
LATIN1_END, BMP_END = 0x100, 0x10000
# Only characters outside printable ASCII can need escaping.
CANDIDATE = re.compile(r"[^\x20-\x7e]")
# json.dumps escapes every C0 control itself, and a raw newline in its output is indentation.
JSON_CANDIDATE = re.compile(r"[^\x00-\x7e]")
UNSAFE_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=UNSAFE_CACHE_SIZE)
def is_unsafe(char: str) -> bool:
    """Say whether a terminal could act on ``char`` or be made to show text that is not there."""
    return char not in KEPT_FORMAT and unicodedata.category(char) in ESCAPED_CATEGORIES


def escaped(char: str) -> str:
    """Return the visible Python-style escape of one character."""
    if char in SHORT_ESCAPES:
        return SHORT_ESCAPES[char]
    code = ord(char)
    if code < LATIN1_END:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < BMP_END else f"\\U{code:08x}"


def escape(text: Any, multiline: bool = False) -> str:
    """Return ``text`` with every unsafe character escaped; ``multiline`` keeps newlines and tabs."""
    text = safe_str(text)
    if text.isprintable():  # fast path: no control, format, separator or surrogate character
        return text

    def replace(match: Match[str]) -> str:
        char = match.group()
        if multiline and char in MULTILINE_KEPT:
            return char
        return escaped(char) if is_unsafe(char) else char

    return CANDIDATE.sub(replace, text)


def json_escaped(char: str) -> str:
    """Return the JSON ``\\uXXXX`` escape of one character (a surrogate pair above the BMP)."""
    code = ord(char)
    if code < BMP_END:
        return f"\\u{code:04x}"
    code -= BMP_END
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def finite(value: Any) -> Any:
    """Return ``value`` with NaN and infinite floats (not JSON) replaced by their names as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def json_text(value: Any, indent: int | None = None) -> str:
    """Return ``value`` as JSON (UTF-8 text, exact big integers) with every unsafe character escaped."""
    separators = (",", ":") if indent is None else (",", ": ")

    def dumps(item: Any) -> str:
        return json.dumps(
            item, ensure_ascii=False, allow_nan=False, indent=indent, separators=separators, default=safe_str
        )

    try:
        text = dumps(value)
    except ValueError:  # NaN or Infinity from a hand-made file: standard JSON has no such numbers
        text = dumps(finite(value))
    # Outside strings json.dumps writes only ASCII, so every match is inside a string.
    return JSON_CANDIDATE.sub(lambda m: json_escaped(m.group()) if is_unsafe(m.group()) else m.group(), text)
