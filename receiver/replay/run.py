"""Carry out one replay: feed the selected captures to a target and account for every outcome.

The run skips what the resume state says was delivered, sends the rest with a
bounded thread pool (``pool``), records each outcome in the state, says what
happened through the caller's ``Output`` (``report``) and draws a progress
line on the terminal it is given.

Failure policy: a capture that cannot be delivered is an outcome, counted and
reported, never an exception; ``--max-errors`` failures in a row stop the run
(exit 1); Ctrl-C or SIGTERM finish the captures in flight and stop it (exit
130). A resume state that no longer matches the selection raises
``ResumeError``; the state is synced on the way out in every case.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import TextIO

from receiver.replay.choices import ReplayOptions
from receiver.replay.pool import RateLimiter, run_bounded
from receiver.replay.progress import Progress
from receiver.replay.report import DRY_RUN, Outcomes, Output, item_line, summary, wants_line
from receiver.replay.resume import ResumeState
from receiver.replay.targets import ERROR, OK, STATUS, Outcome, Target
from receiver.store.files import Record
from receiver.store.select import Pair

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
PROGRESS_LABEL = "replayed"
Item = tuple[int, Record]  # a capture to send and its position in the selection


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Yield ``items`` in lists of ``size`` (the last may be shorter)."""
    group: list[Item] = []
    for item in items:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


class ReplayRun:
    """Hold the target, the resume state, the counters and the output of one replay."""

    def __init__(
        self, options: ReplayOptions, target: Target, output: Output, state: ResumeState | None = None
    ) -> None:
        self.options, self.target, self.output, self.state = options, target, output, state
        self.tally = Outcomes()
        self.consecutive_failures = 0
        self.last_failure: str | None = None
        self.progress = Progress(0, PROGRESS_LABEL, enabled=False)
        self.status = EXIT_OK

    def pending(self, pairs: Iterable[Pair]) -> Iterator[Item]:
        """Yield ``(position, record)`` for the captures still to send; count the skipped ones."""
        for position, (record, _) in enumerate(pairs):
            if self.state is not None and not self.state.wanted(position, record["id"]):
                self.tally.counts["skipped"] += 1
                continue
            yield position, record

    def count_pending(self, pairs: Iterable[Pair]) -> int:
        """Return how many captures of ``pairs`` are still to send, counting nothing."""
        total = sum(1 for _ in self.pending(pairs))
        self.tally.counts.clear()
        return total

    def show(self, record: Record, kind: str, detail: str) -> None:
        """Print one capture's line if it gets one, above the progress line."""
        if wants_line(self.options, kind):
            self.progress.clear()
            item_line(self.output, self.options, record, kind, detail)

    def on_result(self, item: Item, outcome: Outcome) -> None:
        """Account for one finished capture (called in the main thread)."""
        position, record = item
        if self.state is not None:
            self.state.record(position, record["id"], outcome.ok, outcome.detail)
        counts = self.tally.counts
        counts["sent"] += 1
        counts[outcome.kind] += 1
        if outcome.kind == OK:
            self.tally.details[outcome.detail] += 1
            self.consecutive_failures = 0
        else:
            if outcome.kind == STATUS:
                self.tally.statuses[outcome.detail] += 1
            self.consecutive_failures += 1
            self.last_failure = outcome.detail
        self.show(record, outcome.kind, outcome.detail if outcome.kind != ERROR else f"error: {outcome.detail}")
        self.progress.advance(f"ok {counts[OK]}  failed {self.tally.failed}")

    def run(self, pairs: Iterable[Pair], total: int | None = None, terminal: TextIO | None = None) -> int:
        """Send every pending capture of ``pairs``, ``total`` of them drawn on ``terminal``; return the exit status."""
        enabled = terminal is not None and total is not None
        self.progress = Progress(total or 0, PROGRESS_LABEL, enabled=enabled, stream=terminal)
        self.status = self.list_only(pairs) if self.options.dry_run else self.send_all(pairs)
        return self.status

    def list_only(self, pairs: Iterable[Pair]) -> int:
        """Say what a dry run would send; send nothing."""
        where = self.target.describe()
        for _, record in self.pending(pairs):
            self.tally.counts["would"] += 1
            self.show(record, DRY_RUN, f"would send to {where}")
        return EXIT_OK

    def send_all(self, pairs: Iterable[Pair]) -> int:
        """Send the pending captures on the options' threads, at their rate, until done or stopped.

        They go in groups of the target's ``batch`` (the queue takes many captures to a job), in order.
        """
        limiter = RateLimiter(self.options.rate)

        def work(group: list[Item]) -> list[Outcome]:
            for _ in group:
                limiter.wait()
            return self.target.send_many([record for _, record in group])

        def on_results(group: list[Item], outcomes: list[Outcome]) -> None:
            for item, outcome in zip(group, outcomes):
                self.on_result(item, outcome)

        groups = batched(self.pending(pairs), self.target.batch)
        try:
            run_bounded(groups, work, self.options.concurrency, on_results, self.should_stop)
        except KeyboardInterrupt:
            self.tally.interrupted = True
        finally:
            self.progress.clear()
            if self.state is not None:
                self.state.sync()
        if self.tally.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.tally.failed or self.tally.stopped else EXIT_OK

    def should_stop(self) -> bool:
        """Say whether to start no more captures: interrupted, or ``--max-errors`` failures in a row."""
        if self.tally.interrupted:
            return True
        max_errors = self.options.max_errors
        if max_errors and self.consecutive_failures >= max_errors:
            self.tally.stopped = f"{self.consecutive_failures} failures in a row (last: {self.last_failure})"
        return self.tally.stopped is not None

    def summary(self) -> None:
        """Print the closing summary (also with ``--quiet``)."""
        summary(self.output, self.options, self.tally, self.target.describe())


@contextlib.contextmanager
def stop_on_signals(run: ReplayRun) -> Iterator[None]:
    """Make Ctrl-C and SIGTERM finish the captures in flight, save the state and stop; a second Ctrl-C forces."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        if run.tally.interrupted and signum == signal.SIGINT:
            raise KeyboardInterrupt
        run.tally.interrupted = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
