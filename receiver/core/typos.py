"""Name the ``DUMPER_*`` variables nothing reads, with the closest known name: a typo is warned, not ignored.

A variable is known when ``settings.load`` reads it or a command's option
takes it (``envvar``); the CLI passes those in. ``DUMPER_BASIC_AUTHH=...``
then says ``did you mean DUMPER_BASIC_AUTH?`` instead of leaving the webhook
without a password and nobody told.

Failure policy: pure; never raises.
"""

import difflib
from collections.abc import Iterable, Mapping

from receiver.core import settings

PREFIX = "DUMPER_"
CLOSE_ENOUGH = 0.6  # difflib's ratio: one or two letters off in a name of this length


def known_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """Return every variable a setting reads, plus ``extra`` (the commands' options)."""
    settings.load(environ={})  # reading the defaults names every variable load() asks for
    return frozenset(settings.READ_NAMES) | frozenset(extra)


def unknown(environ: Mapping[str, str], known: frozenset[str]) -> list[str]:
    """Return the ``DUMPER_*`` names of ``environ`` that are not ``known``, sorted."""
    return sorted(name for name in environ if name.startswith(PREFIX) and name not in known)


def warning(name: str, known: frozenset[str]) -> str:
    """Return one line about the unknown variable ``name``, naming the closest known one."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=CLOSE_ENOUGH)
    hint = f"did you mean {close[0]}?" if close else "docs/settings.md lists every setting"
    return f"{name} is not a setting and is ignored: {hint}"
