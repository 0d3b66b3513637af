"""The books of an audit: captures counted per day and source by state, and the ids an operator must look at.

``receiver.ops.audit`` fills them; ``smartech-dumper audit`` prints them as a
table or one JSON document. Failure policy: pure; never raises.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

STATES = ("processed", "dead", "on_disk", "queued", "running", "retrying", "scheduled", "missing")


@dataclass
class Books:
    """The counts per ``(day, source)``, and the captures an operator must look at."""

    rows: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    missing_records: list[dict[str, Any]] = field(default_factory=list)
    torn: int = 0

    def add(self, day: str, source: str, state: str) -> None:
        """Count one capture of ``day`` and ``source`` in ``state``."""
        counts = self.rows.setdefault((day, source), Counter())
        counts["captures"] += 1
        counts[state] += 1

    def totals(self) -> Counter[str]:
        """Return the counts of every row added up."""
        total: Counter[str] = Counter()
        for counts in self.rows.values():
            total.update(counts)
        return total

    def json(self) -> dict[str, Any]:
        """Return the books as one JSON-safe document."""

        def full(counts: Counter[str]) -> dict[str, int]:
            return {"captures": counts["captures"], **{state: counts[state] for state in STATES}}

        rows = [{"day": day, "source": source, **full(c)} for (day, source), c in sorted(self.rows.items())]
        return {
            "books": rows,
            "totals": full(self.totals()),
            "missing": self.missing,
            "stuck": self.stuck,
            "torn_lines": self.torn,
        }
