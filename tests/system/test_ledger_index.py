"""The ledger's index opened by several worker processes at once, as workers starting together open it."""

import multiprocessing

import pytest

from receiver.ledger import index as ledger_index

pytestmark = pytest.mark.slow  # real processes, forked

PROCESSES, TRIALS = 6, 30


def open_index(data_dir, barrier, answers):
    """Open the index the moment every other process does; report how it went."""
    barrier.wait()
    try:
        ledger_index.connect(data_dir)
        answers.put("ok")
    except Exception as exc:  # noqa: BLE001 - the test counts what any process met
        answers.put(repr(exc))


def test_workers_opening_a_new_index_together_all_get_it(tmp_path):
    # Switching a new file to WAL answered "database is locked" at once, without the busy timeout: the
    # job failed and was retried (4 of 180 opens here before use_wal waited it out).
    context = multiprocessing.get_context("fork")
    failures = []
    for trial in range(TRIALS):
        data_dir = str(tmp_path / f"var{trial}")
        barrier, answers = context.Barrier(PROCESSES), context.Queue()
        processes = [context.Process(target=open_index, args=(data_dir, barrier, answers)) for _ in range(PROCESSES)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        failures += [answer for answer in (answers.get(timeout=10) for _ in processes) if answer != "ok"]
    assert failures == []
