"""Callables for the python sink's tests, imported by the worker as ``tests.sink_targets:NAME``."""

RECEIVED = []  # every event ``record`` was called with, in order
FAIL_ON = set()  # event ids ``record`` raises on


class TargetFailed(RuntimeError):
    """What ``record`` raises for an event id in ``FAIL_ON``."""


def record(event):
    """Keep ``event``, or raise for an id in ``FAIL_ON`` (once: a retry then succeeds)."""
    if event["event_id"] in FAIL_ON:
        FAIL_ON.discard(event["event_id"])
        raise TargetFailed(f"refused {event['event_id']}")
    RECEIVED.append(event)
