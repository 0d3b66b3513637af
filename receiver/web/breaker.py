"""A circuit breaker: after a failure, skip a slow dependency for a cool-down."""

import threading
import time
from collections.abc import Callable

DEFAULT_COOLDOWN = 5.0


class Breaker:
    """Let calls through until one fails, then refuse them for ``cooldown`` seconds."""

    def __init__(self, cooldown: float = DEFAULT_COOLDOWN, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Return True if a call may be tried now."""
        with self._lock:
            return self.clock() >= self._open_until

    def failed(self) -> None:
        """Record a failure: refuse calls for the cool-down."""
        with self._lock:
            self._open_until = self.clock() + self.cooldown

    def succeeded(self) -> None:
        """Record a success: let calls through again."""
        with self._lock:
            self._open_until = 0.0
