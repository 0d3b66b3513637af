"""Look at what was captured: tail, show, list, stats, and how they print."""
