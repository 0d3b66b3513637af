"""Print aligned tables and format numbers and ratios the same way in every bench."""

import statistics


def median(values):
    """Return the median of ``values`` (None when empty)."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(ours, base):
    """Return ours / base, or None when either is missing."""
    return ours / base if ours is not None and base else None


def fmt(value, digits=1):
    """Format a number for a table: thousands separators, '-' when missing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(title, headers, rows, digits=1):
    """Print ``rows`` under ``headers`` with a title line; numbers right-aligned."""
    cells = [[fmt(value, digits) for value in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(row[i]) for row in cells)) if cells else len(str(h)) for i, h in enumerate(headers)
    ]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print(flush=True)
