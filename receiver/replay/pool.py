"""Run a function over a stream with a few threads, a rate limit and a bounded window.

Items are taken from the iterator only when a slot frees up (at most
``WINDOW_FACTOR * concurrency`` in flight), so memory does not grow with the
stream. Results are handed back in the calling thread, in completion order.
On an interrupt (Ctrl-C, SIGTERM) no new item is started, the ones in flight
are finished and handed back, and the interrupt is raised again.

Failure policy: an exception raised by ``work`` is raised again here, in the
calling thread, once the items in flight are finished; ``work`` that must not
stop the stream returns its failure as a result instead.
"""

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

# Not Executor.map: it submits the whole stream at once, so memory would grow with the replay.
WINDOW_FACTOR = 2

Item = TypeVar("Item")
Result = TypeVar("Result")


def never() -> bool:
    """Say no: the default ``should_stop``, which lets the stream run to its end."""
    return False


class RateLimiter:
    """Space calls at least ``1 / rate`` seconds apart across all threads."""

    def __init__(self, rate: float | None = None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.lock = threading.Lock()
        self.next_slot: float | None = None

    def wait(self) -> None:
        """Block until this caller's slot comes."""
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = now if self.next_slot is None else max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def run_bounded(
    items: Iterable[Item],
    work: Callable[[Item], Result],
    concurrency: int,
    on_result: Callable[[Item, Result], None],
    should_stop: Callable[[], bool] = never,
) -> None:
    """Call ``work(item)`` for each item on ``concurrency`` threads; call ``on_result(item, result)`` here."""
    window = max(1, concurrency) * WINDOW_FACTOR
    pending: dict[Future[Result], Item] = {}

    def collect(block: bool) -> None:
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
