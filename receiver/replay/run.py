"""Carry out one replay: feed the selected captures to a target and account for every outcome.

The run skips what the resume state says was delivered, sends the rest with a
bounded thread pool, records each outcome in the state, prints per-capture
lines (failures always; every capture with ``--verbose``, ``--json`` or a dry
run; none with ``--quiet``) and ends with a summary.
"""

import contextlib
import signal
import threading
from collections import Counter

from receiver.replay.pool import RateLimiter, run_bounded
from receiver.replay.progress import Progress
from receiver.replay.targets import ERROR, OK, STATUS
from scripts.view.output import echo_line, json_line


class ReplayRun:
    """Hold the counters and the output of one replay."""

    def __init__(self, target, state=None, as_json=False, quiet=False, verbose=False, dry_run=False):
        self.target, self.state = target, state
        self.as_json, self.quiet, self.verbose, self.dry_run = as_json, quiet, verbose, dry_run
        self.counts = Counter()
        self.statuses = Counter()
        self.details = Counter()
        self.consecutive_failures = 0
        self.last_failure = None
        self.stopped = None
        self.interrupted = False
        self.progress = Progress(0, "replayed", enabled=False)

    def pending(self, stream):
        """Yield ``(position, record)`` for the captures still to send; count the skipped ones."""
        for position, (record, _) in enumerate(stream):
            if self.state is not None and not self.state.wanted(position, record["id"]):
                self.counts["skipped"] += 1
                continue
            yield position, record

    def item_line(self, record, outcome_kind, detail):
        """Print one capture's line unless quiet; failures always, the rest when asked."""
        if self.quiet or not (self.verbose or self.as_json or self.dry_run or outcome_kind not in (OK, "dry-run")):
            return
        self.progress.clear()
        if self.as_json:
            json_line(
                {
                    "id": record["id"],
                    "received_at": record["received_at"],
                    "source": record.get("source"),
                    "size": record.get("size"),
                    "content_type": record.get("content_type"),
                    "outcome": outcome_kind,
                    "result": detail,
                }
            )
        else:
            size = record.get("size") or 0
            size = f"{size:>8}" if isinstance(size, int) else size  # a hand-made record may hold anything
            echo_line(f"{record['id']}  {record['received_at']}  {size} B  {detail}")

    def on_result(self, item, outcome):
        """Account for one finished capture (called in the main thread)."""
        position, record = item
        if self.state is not None:
            self.state.record(position, record["id"], outcome.ok, outcome.detail)
        self.counts["sent"] += 1
        self.counts[outcome.kind] += 1
        if outcome.kind == OK:
            self.details[outcome.detail] += 1
            self.consecutive_failures = 0
        else:
            if outcome.kind == STATUS:
                self.statuses[outcome.detail] += 1
            self.consecutive_failures += 1
            self.last_failure = outcome.detail
        self.item_line(record, outcome.kind, outcome.detail if outcome.kind != ERROR else f"error: {outcome.detail}")
        self.progress.advance(f"ok {self.counts[OK]}  failed {self.counts[STATUS] + self.counts[ERROR]}")

    def run(self, stream, concurrency=1, rate=None, max_errors=0, total=None, show_progress=False):
        """Send every pending capture of ``stream``; return the exit status."""
        self.progress = Progress(total or 0, "replayed", enabled=show_progress and total is not None)
        if self.dry_run:
            for _, record in self.pending(stream):
                self.counts["would"] += 1
                self.item_line(record, "dry-run", f"would send to {self.target.describe()}")
            return 0
        limiter = RateLimiter(rate)

        def work(item):
            limiter.wait()
            return self.target.send(item[1])

        def should_stop():
            if self.interrupted:
                return True
            if max_errors and self.consecutive_failures >= max_errors:
                self.stopped = f"{self.consecutive_failures} failures in a row (last: {self.last_failure})"
            return self.stopped is not None

        try:
            run_bounded(self.pending(stream), work, concurrency, self.on_result, should_stop)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.progress.clear()
            if self.state is not None:
                self.state.sync()
        failed = self.counts[STATUS] + self.counts[ERROR]
        return 130 if self.interrupted else 1 if failed or self.stopped else 0

    def summary(self, state_path=None):
        """Print the closing summary (also with ``--quiet``)."""
        where = self.target.describe()
        if self.as_json:
            json_line(
                {
                    "summary": {
                        "target": where,
                        "dry_run": self.dry_run,
                        "would_send": self.counts["would"],
                        "sent": self.counts["sent"],
                        "ok": self.counts[OK],
                        "results": dict(self.details),
                        "other_status": dict(self.statuses),
                        "errors": self.counts[ERROR],
                        "skipped": self.counts["skipped"],
                        "stopped": self.stopped,
                        "interrupted": self.interrupted,
                    }
                }
            )
            return
        skipped = (
            f"; skipped {self.counts['skipped']} already delivered ({state_path})" if self.counts["skipped"] else ""
        )
        if self.dry_run:
            echo_line(f"dry run: {self.counts['would']} captures would be sent to {where}{skipped}; nothing was sent")
            return
        statuses = ", ".join(f"{code}×{count}" for code, count in sorted(self.statuses.items()))
        oks = ", ".join(f"{name}×{count}" for name, count in sorted(self.details.items()))
        echo_line(
            f"sent {self.counts['sent']} to {where}: ok {self.counts[OK]}"
            + (f" ({oks})" if oks else "")
            + f", other status {self.counts[STATUS]}"
            + (f" ({statuses})" if statuses else "")
            + f", connection errors {self.counts[ERROR]}{skipped}"
        )
        if self.stopped:
            echo_line(f"stopped after {self.stopped}", err=True)
        if self.interrupted:
            echo_line("interrupted", err=True)
        if (self.stopped or self.interrupted or self.counts[STATUS] or self.counts[ERROR]) and state_path:
            echo_line(f"to continue, run the same command again with --resume {state_path}", err=True)


@contextlib.contextmanager
def stop_on_signals(run):
    """Make Ctrl-C and SIGTERM finish the captures in flight, save the state and stop; a second Ctrl-C forces."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        if run.interrupted and signum == signal.SIGINT:
            raise KeyboardInterrupt
        run.interrupted = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
