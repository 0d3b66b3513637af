"""Repeats across real worker processes: two workers agree on which open repeats which, and write each once."""

import os

import pytest

from tests.unit.receiver.ledger.test_repeats import capture, events


@pytest.mark.slow
def test_two_real_workers_agree_on_repeats_and_write_each_open_once(env, data_dir):
    from receiver.core import queues as queueing
    from receiver.core.settings import load
    from receiver.forwarder import enqueue
    from tests.support.procs import start_worker

    proc_env = {**os.environ, **env, "DUMPER_FSYNC": "true"}
    settings = load(environ=proc_env)
    capture_queue = queueing.get_queue(settings)
    records = [capture(n, minutes=n / 6) for n in range(1, 41)]  # 40 identical opens, 10 s apart
    for record in records:
        assert enqueue.enqueue_capture(capture_queue, record, settings)
    workers = [start_worker(proc_env, burst=True) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    written = events(data_dir)
    assert sorted(e["capture_id"] for e in written) == sorted(r["id"] for r in records)  # each once
    received = {r["id"]: r["received_at"] for r in records}
    by_id = {e["event_id"]: e for e in written}
    for event in written:
        if event["repeat_of"] is not None:
            earlier = by_id[event["repeat_of"]]  # names an event that was written
            assert earlier["capture_id"] != event["capture_id"]
            assert received[earlier["capture_id"]] <= received[event["capture_id"]]
    marked = sum(e["repeat_of"] is not None for e in written)
    assert 1 <= len(written) - marked and marked >= len(written) // 2, marked  # in order but for a few overtakes
