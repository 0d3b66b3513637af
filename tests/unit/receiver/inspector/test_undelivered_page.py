"""The inspector's Undelivered page over real delivery jobs (run by an RQ worker of ours), the private Redis and a
real HTTP endpoint: the same selection and filters as ``smartech-dumper undelivered``, and each sink's state."""

import os

from receiver.core import queues as queueing
from receiver.inspector import create_app
from receiver.routes import sinkstate
from tests.support.routing_helpers import capture_with
from tests.unit.jobs.routing import test_routing_delivery as in_process
from tests.unit.jobs.routing.test_routing_delivery import drain, ids_of, send
from tests.unit.receiver.inspector.test_inspector import AUTH, headers

endpoint, routed = in_process.endpoint, in_process.routed


def inspector():
    """Return a test client of the inspector with the routed settings of the environment."""
    return create_app({**os.environ, "DUMPER_INSPECT_AUTH": AUTH}).test_client()


def test_the_page_lists_the_waiting_events_with_why_and_shows_a_pause_and_an_open_breaker(routed, endpoint):
    settings = routed(
        {
            "cc": {"type": "http", "url": endpoint.to("cc")},
            "crm": {"type": "http", "url": endpoint.to("crm"), "retries": "none", "breaker_after": 1},
        }
    )
    connection = queueing.connect(settings)
    sinkstate.pause(connection, settings.queue, "cc")
    endpoint.will_answer("crm", 503)
    capture = capture_with(1)
    send(settings, capture)
    drain(settings)
    [event_id] = ids_of(capture)
    page = inspector().get("/undelivered", headers=headers())
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count(event_id) == 2
    assert "paused" in text and "open (1 failures)" in text and "breaker open" in text
    waiting = inspector().get("/undelivered?sink=cc&state=waiting&since=1h", headers=headers()).get_data(as_text=True)
    assert event_id in waiting and "breaker open" not in waiting.split('<table class="undelivered">')[1]
    assert event_id not in inspector().get("/undelivered?state=dead", headers=headers()).get_data(as_text=True)


def test_bad_filters_are_a_400_naming_the_filter_and_credentials_are_needed(routed, endpoint):
    routed({"cc": {"type": "http", "url": endpoint.to("cc")}})
    client = inspector()
    assert client.get("/undelivered").status_code == 401
    for query, said in (("since=soon", "since:"), ("state=lost", "state:"), ("sink=nope", "no sink")):
        answer = client.get(f"/undelivered?{query}", headers=headers())
        assert answer.status_code == 400 and said in answer.get_data(as_text=True)
