"""Run a function over a stream with a few threads, a rate limit and a bounded window.

Items are taken from the iterator only when a slot frees up (at most
``WINDOW_FACTOR * concurrency`` in flight), so memory does not grow with the
stream. Results are handed back in the calling thread, in completion order.
On an interrupt (Ctrl-C, SIGTERM) no new item is started, the ones in flight
are finished and handed back, and the interrupt is raised again.
"""

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

# Not Executor.map: it submits the whole stream at once, so memory would grow with the replay.
WINDOW_FACTOR = 2


class RateLimiter:
    """Space calls at least ``1 / rate`` seconds apart across all threads."""

    def __init__(self, rate=None):
        self.interval = 1.0 / rate if rate else 0.0
        self.lock = threading.Lock()
        self.next_slot = None

    def wait(self):
        """Block until this caller's slot comes."""
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = now if self.next_slot is None else max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def run_bounded(items, work, concurrency, on_result, should_stop=lambda: False):
    """Call ``work(item)`` for each item on ``concurrency`` threads; call ``on_result(item, result)`` here."""
    window = max(1, concurrency) * WINDOW_FACTOR
    pending = {}

    def collect(block):
        done, _ = wait(pending, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            on_result(pending.pop(future), future.result())

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="replay") as pool:
        try:
            for item in items:
                if should_stop():
                    break
                while len(pending) >= window:
                    collect(block=True)
                pending[pool.submit(work, item)] = item
                collect(block=False)
        finally:
            while pending:
                collect(block=True)
