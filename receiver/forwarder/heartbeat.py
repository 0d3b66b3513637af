"""The forwarder's heartbeat: a small file it rewrites each second it leads, with since when Redis is away.

``/readyz``, the alerts and ``/metrics`` read its age: a forwarder that died,
or stopped leading, stops beating. Failure policy: ``read`` returns
``(None, None)`` for a missing or unreadable file; ``write`` raises OS errors.
"""

import os
import time

from receiver.core import layout, statefile

EVERY = 1.0  # seconds between two beats of a live forwarder


def path(data_dir: str) -> str:
    """Return the file whose modification time is the forwarder's last pass that ended without an error."""
    return layout.spool_path(data_dir, layout.HEARTBEAT_FILE)


def read(data_dir: str) -> tuple[float | None, float | None]:
    """Return ``(age in seconds, Unix time since which Redis is down or None)``; ``(None, None)`` without one."""
    beat = path(data_dir)
    try:
        age = max(0.0, time.time() - os.stat(beat).st_mtime)
        state = statefile.read_json(beat) or {}
    except (OSError, ValueError):
        return None, None
    since = state.get("redis_down_since") if isinstance(state, dict) else None
    return age, since if isinstance(since, (int, float)) else None


def write(data_dir: str, redis_down_since: float | None) -> None:
    """Beat: rewrite the heartbeat file with this process's pid and since when Redis is away (None: it answers)."""
    layout.spool_dir(data_dir)
    statefile.write_json(path(data_dir), {"pid": os.getpid(), "redis_down_since": redis_down_since}, durable=False)
