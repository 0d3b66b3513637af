"""A one-line progress display on stderr: count, percent, rate and ETA.

It draws only when enabled (the caller enables it when stderr is a terminal
and ``--quiet`` is off) and redraws at most ``REDRAWS_PER_SECOND`` times a second.

Failure policy: nothing is caught; an error writing to the stream (a closed
terminal) reaches the caller.
"""

import sys
import time
from typing import TextIO

# Ours, not click.progressbar: that shows no rate, cannot be erased for a failure's line, and redraws per item.
REDRAWS_PER_SECOND = 10
CLEAR_LINE = "\r\033[K"


def clock(seconds: float) -> str:
    """Return ``seconds`` as ``H:MM:SS``."""
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Show ``done/total``, the percentage, the rate and the time left."""

    def __init__(self, total: int, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.extra = ""

    def advance(self, extra: str = "") -> None:
        """Count one more finished item and redraw if it is time."""
        self.done += 1
        self.extra = extra
        now = time.monotonic()
        if self.enabled and (now - self.drawn_at >= 1 / REDRAWS_PER_SECOND or self.done == self.total):
            self.drawn_at = now
            self.draw(now)

    def draw(self, now: float) -> None:
        """Write the progress line."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        left = (self.total - self.done) / rate if self.total and rate else 0
        line = f"{self.label} {self.done}/{self.total}{share}  {rate:.1f}/s  ETA {clock(left)}  {self.extra}"
        self.stream.write(CLEAR_LINE + line)
        self.stream.flush()

    def clear(self) -> None:
        """Erase the progress line, so other output starts on a clean line."""
        if self.enabled and self.drawn_at:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
