"""The steps of one replay, in order: check the ids, open the resume state, fix the window, run.

``replay_captures`` is what the ``replay`` command does between checking its
options (``ReplayOptions``) with the target built (``build_target``) and
printing the summary (``ReplayRun.summary``).

Failure policy: an id in no capture file raises ``UnknownCaptureError`` and
an unreadable file ``DataFileError`` before anything is sent; a resume state
that cannot be used raises ``ResumeError``. The state file and the target are
closed however the replay ends; the summary of unreadable lines goes to the
output's ``warn`` only when the run ends normally.
"""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from receiver.replay.choices import ReplayOptions
from receiver.replay.report import Output
from receiver.replay.resume import ResumeState
from receiver.replay.run import ReplayRun, stop_on_signals
from receiver.replay.targets import Target
from receiver.store.select import capture_reader
from receiver.store.timeexpr import utc_now


def open_state(options: ReplayOptions, target: Target) -> ResumeState | None:
    """Open or create the ``--resume`` state file; None without one, or for a dry run before the first run."""
    if not options.state_path:
        return None
    return ResumeState.open(
        options.state_path, options.selection.key(), target.describe(), utc_now(), write=not options.dry_run
    )


def started_at(state: ResumeState | None) -> datetime:
    """Return when this replay started: now, or when its first run did if it is resumed."""
    return state.created_at if state is not None else utc_now()


def progress_terminal(options: ReplayOptions, stream: TextIO | None) -> TextIO | None:
    """Return ``stream`` if the progress line goes there: a terminal, not ``--quiet``, not a dry run."""
    if options.quiet or options.dry_run or stream is None or not stream.isatty():
        return None
    return stream


def replay_captures(options: ReplayOptions, target: Target, output: Output, stream: TextIO | None = None) -> ReplayRun:
    """Replay the captures ``options`` select into ``target`` (closed at the end); return the finished run.

    ``stream`` is where a progress line may be drawn (stderr), when it is a terminal.
    """
    state = None
    reader = capture_reader(output.warn)
    try:
        options.selection.check_ids()
        state = open_state(options, target)
        selection = options.selection.up_to(started_at(state))
        run = ReplayRun(options, target, output, state)
        terminal = progress_terminal(options, stream)
        total = run.count_pending(selection.pairs(capture_reader(), output.warn)) if terminal else None
        with stop_on_signals(run):
            run.run(selection.pairs(reader, output.warn), total, terminal)
    finally:
        if state is not None:
            state.close()
        target.close()
    reader.report()
    return run
