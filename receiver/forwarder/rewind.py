"""Notice a Redis that restarted, and go back over the captures it may have lost.

Redis with ``appendfsync everysec`` can lose up to about two seconds of
acknowledged writes when it is killed: jobs the forwarder saw queued. So the
forwarder remembers the positions it saved during the last ``WINDOW``
seconds it was able to queue anything; when Redis's ``run_id`` changes (it
restarted), forwarding goes back to the oldest of them and hands those
captures over again. Nothing is queued twice (``enqueue_absent`` skips the
jobs that survived) and no event is written twice (the worker's ledger).

Failure policy: a Redis error while asking for the ``run_id`` propagates to
the forwarder, which treats it like any other outage.
"""

import time
from collections import deque
from collections.abc import Callable

import redis

from receiver.forwarder.cursor import Cursor

WINDOW = 10.0  # far more than AOF's one-second flush, and its two-second grace when a flush is slow
CHECK_EVERY = 10.0  # a restart too quick for the forwarder to notice as an outage is still found


class Rewind:
    """Keep the recent positions and the Redis identity; say where to go back to after a restart."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW) -> None:
        self.clock, self.window = clock, window
        self.marks: deque[tuple[float, Cursor]] = deque()
        self.run_id: str | None = None
        self.checked_at = float("-inf")

    def saved(self, position: Cursor) -> None:
        """Remember a position that is safely saved; forget those older than the window before it."""
        now = self.clock()
        self.marks.append((now, position))
        while len(self.marks) > 1 and self.marks[1][0] <= now - self.window:
            self.marks.popleft()

    def due(self) -> bool:
        """Say whether it is time for the periodic check of Redis's identity."""
        return self.clock() - self.checked_at >= CHECK_EVERY

    def restarted(self, connection: redis.Redis) -> Cursor | None:
        """Return where to go back to if Redis restarted since the last check, else None."""
        self.checked_at = self.clock()
        run_id = str(connection.info("server").get("run_id"))
        previous, self.run_id = self.run_id, run_id
        if previous is None or previous == run_id or not self.marks:
            return None
        target = self.marks[0][1]
        self.marks.clear()
        self.saved(target)
        return target
