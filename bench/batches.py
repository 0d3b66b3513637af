"""Make realistic Smartech batches with unique guids, and the capture records the receiver would write."""

import copy
import itertools
import uuid

from receiver.capture import record as capture
from receiver.core import ids
from receiver.replay import samples

REMOTE_ADDR = "127.0.0.1"


def events(count):
    """Return ``count`` channel events cycling over the vendor's samples, each with a fresh guid."""
    made = []
    for template in itertools.islice(itertools.cycle(samples.CHANNEL_EVENTS), count):
        event = copy.deepcopy(template)
        event["event_params"]["guid"] = str(uuid.uuid4())
        made.append(event)
    return made


def body(count):
    """Return a form body holding one batch of ``count`` fresh events."""
    return samples.encode_body(samples.payload(events(count)))


def record(raw_body):
    """Return the capture record the receiver writes for ``raw_body`` received now."""
    delivery = capture.new_delivery(
        ids.new_id(),
        capture.DEFAULT_SOURCE,
        REMOTE_ADDR,
        "POST",
        "/webhook",
        samples.CONTENT_TYPE,
        "smartech",
        raw_body,
    )
    return capture.to_record(delivery)
