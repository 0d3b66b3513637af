"""``sinks list|pause|resume`` and ``undelivered`` in this process, over the private Redis, real delivery jobs run by
an RQ worker of ours and a real HTTP endpoint."""

import json

from click.testing import CliRunner

from scripts.cli import main
from tests.support.routing_helpers import capture_with
from tests.unit.jobs.routing import test_routing_delivery as in_process
from tests.unit.jobs.routing.test_routing_delivery import drain, ids_of, send

endpoint, routed = in_process.endpoint, in_process.routed


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_a_paused_sink_is_listed_its_deliveries_wait_and_resume_sends_them(routed, endpoint):
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc")}})
    assert run("sinks", "pause", "cc").output == "sink cc: paused\n"
    assert run("sinks", "pause", "cc").output == "sink cc: paused already\n"
    capture = capture_with(2)
    send(settings, capture)
    drain(settings)
    listed = run("sinks", "list").output
    assert "sink cc: http; paused since " in listed and "breaker closed; 1 waiting, 0 retrying, 0 dead" in listed
    rows = [json.loads(line) for line in run("undelivered", "--json").output.splitlines()]
    assert [row["event_id"] for row in rows] == ids_of(capture)
    assert {(row["sink"], row["state"], row["reason"]) for row in rows} == {("cc", "waiting", "paused")}
    assert run("undelivered", "--state", "dead").output == ""
    assert run("sinks", "resume", "cc").output == "sink cc: resumed; 1 waiting deliveries queued\n"
    drain(settings)
    assert endpoint.keys("cc") == ids_of(capture)
    assert run("undelivered").output == ""
    assert "active; breaker closed; 0 waiting, 0 retrying, 0 dead; 2 delivered" in run("sinks", "list").output


def test_undelivered_retry_needs_yes_and_sends_a_dead_letter_again(routed, endpoint):
    settings = routed({"cc": {"type": "http", "url": endpoint.to("cc"), "retries": "none"}})
    endpoint.will_answer("cc", (422, "no such campaign"))
    capture = capture_with(1)
    send(settings, capture)
    drain(settings)
    [row] = [json.loads(line) for line in run("undelivered", "--sink", "cc", "--json").output.splitlines()]
    assert (row["state"], row["reason"]) == ("dead", "dead letter") and "HTTP 422: no such campaign" in row[
        "last_answer"
    ]
    asked = run("undelivered", "--retry")
    assert asked.exit_code == 1 and asked.output == "would retry 1 deliveries (1 events); add --yes to retry them\n"
    assert run("undelivered", "--retry", "--yes").output.endswith("1 deliveries queued\n")
    drain(settings)
    assert endpoint.keys("cc") == ids_of(capture) * 2  # refused once, then taken once
    assert run("undelivered").output == ""


def test_an_unknown_sink_is_a_usage_error_naming_the_sinks(routed, endpoint):
    routed({"cc": {"type": "http", "url": endpoint.to("cc")}})
    for args in (("sinks", "pause", "nope"), ("undelivered", "--sink", "nope")):
        said = run(*args)
        assert said.exit_code == 2 and "no sink 'nope'" in said.output and "(sinks: cc)" in said.output
