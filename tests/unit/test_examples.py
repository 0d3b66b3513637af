"""The examples work as their docstrings say: the call-centre stub behind a real http sink, in this process."""

import io

from examples import callcenter_stub
from jobs.routing.sinks import deliver
from tests.support.helpers import serve
from tests.support.routing_helpers import fresh_events, sink


def test_callcenter_stub_prints_each_task_the_http_sink_sends_and_answers_200():
    out = io.StringIO()
    server = serve(callcenter_stub.create_app(out))
    url = next(server)
    try:
        events = fresh_events(2)
        events[1]["att_params"]["NAME"] = "\x9b2Jmallory"  # a C1 control JSON leaves as is must not reach a terminal
        done = []
        deliver(sink({"type": "http", "url": url + "/tasks"}), events, "/unused", done.extend)
    finally:
        server.close()
    assert done == events
    printed = out.getvalue()
    for event in events:
        assert f"POST /tasks Idempotency-Key: {event['event_id']}" in printed
        assert f'"foreignkey": "{event["foreignkey"]}"' in printed
    assert "\x9b" not in printed and "\\x9b2Jmallory" in printed
