"""The worker's two lanes: captures in the worker's process, deliveries in a second process it keeps alive.

Here, in one process: the queues each lane takes, and a stopping worker's wait for its pubsub thread.
"""

import time

from jobs.worker.runner import build_worker
from receiver.core.keys import CAPTURES, CHECKS, DELIVERIES, PRIORITIES, queue_name, queue_names
from receiver.core.settings import load
from tests.support.helpers import wait_until


def test_the_capture_lane_takes_no_delivery_queue_and_the_delivery_lane_no_capture_queue(env):
    settings = load(env)
    deliveries = {queue_name(settings.queue, priority) for priority in (*PRIORITIES, CHECKS)}
    assert build_worker(settings, lane=CAPTURES).queue_names() == [settings.queue]
    assert set(build_worker(settings, lane=DELIVERIES).queue_names()) == deliveries
    assert settings.queue not in deliveries and set(queue_names(settings.queue)) == deliveries | {settings.queue}


def test_a_stopping_worker_waits_no_minute_for_a_pubsub_thread_that_saw_the_unsubscribe_first(env):
    worker = build_worker(load(env), lane=CAPTURES)
    worker.subscribe()
    worker.pubsub.unsubscribe()  # the race RQ loses at random: its thread reads the reply before it is stopped
    wait_until(lambda: not worker.pubsub.subscribed, timeout=10)
    started = time.monotonic()
    worker.unsubscribe()
    took = time.monotonic() - started
    assert took < 5, f"unsubscribing took {took:.0f}s"
