"""A circuit breaker: after a failure, skip a slow dependency for a cool-down."""
import threading
import time

DEFAULT_COOLDOWN = 5.0


class Breaker:
    """Let calls through until one fails, then refuse them for ``cooldown`` seconds."""

    def __init__(self, cooldown=DEFAULT_COOLDOWN, clock=time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allow(self):
        """Return True if a call may be tried now."""
        with self._lock:
            return self.clock() >= self._open_until

    def failed(self):
        """Record a failure: refuse calls for the cool-down."""
        with self._lock:
            self._open_until = self.clock() + self.cooldown

    def succeeded(self):
        """Record a success: let calls through again."""
        with self._lock:
            self._open_until = 0.0
