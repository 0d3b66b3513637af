"""Event identity through the real job, Redis and SimpleWorker: one event per delivery, repeats marked, not dropped.

What Smartech sends: channel events carry no guid and no time, so a customer who opens one mail three
times makes three identical POSTs. Each is an event; only the same capture at the same place, or the same
guid, is the same event.
"""

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta

from receiver.capture.eventid import legacy_ids
from receiver.capture.normalise import normalise
from receiver.core import ids
from receiver.ledger import upgrade
from tests.support.batches import forget
from tests.support.job_payloads import make_capture
from tests.unit.jobs.test_process import kind_path, queue, read_lines, run  # noqa: F401 - queue is a fixture

EMAIL_OPEN = {"smartech": [{"webhook_name": "EMAIL_OPEN", "event_params": {"foreignkey": "9999999997"}}]}
BODY = json.dumps(EMAIL_OPEN)
DAY = "2026-12-01"


def capture(number, minutes=0.0, body=BODY):
    """Return capture ``number`` of the identical open, received ``minutes`` after 08:00 on ``DAY``."""
    when = datetime(2026, 12, 1, 8, tzinfo=UTC) + timedelta(minutes=minutes)
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    capture_id = ids.encode((int(when.timestamp() * 1000) << ids.RANDOM_BITS) | number)  # a ULID of that time
    return make_capture(body, "application/json", id=capture_id, received_at=stamp)


def events(data_dir):
    """Return the events file's records of ``DAY``."""
    path = kind_path(data_dir, "events", DAY)
    return read_lines(path) if os.path.exists(path) else []


def reprocess(queue, record):  # noqa: F811 - the fixture's value
    """Run ``record``'s job again, as a retry, ``replay --enqueue`` or a put-back does (same capture id)."""
    forget(queue.connection, record["id"])
    return run(queue, record).return_value()


def test_three_identical_opens_are_three_events_the_later_ones_marked_as_repeats(queue, data_dir):  # noqa: F811
    records = [capture(n, minutes=n) for n in (1, 2, 3)]
    assert [run(queue, record).return_value()["events"] for record in records] == [1, 1, 1]
    first, second, third = events(data_dir)
    assert [e["event_id"] for e in (first, second, third)] == [f"c:{record['id']}:0" for record in records]
    assert [e["repeat_of"] for e in (first, second, third)] == [None, first["event_id"], second["event_id"]]


def test_processing_the_captures_again_adds_nothing_and_keeps_repeat_of(queue, data_dir):  # noqa: F811
    records = [capture(n, minutes=n) for n in (1, 2, 3)]
    for record in records:
        run(queue, record)
    before = events(data_dir)
    for record in records:
        assert reprocess(queue, record) == {"capture_id": record["id"], "events": 0, "warnings": [], "duplicates": 1}
    assert events(data_dir) == before
    os.unlink(os.path.join(data_dir, "spool", "ledger.sqlite3"))  # derived: rebuilt from the files
    for record in records:
        assert reprocess(queue, record)["events"] == 0
    run(queue, capture(4, minutes=4))
    assert events(data_dir)[-1]["repeat_of"] == before[-1]["event_id"]  # the rebuilt index knows the contents


def test_two_captures_with_the_same_guid_are_one_event(queue, data_dir):  # noqa: F811
    body = json.dumps({"smartech": [{"webhook_name": "WEB_ADDTOCART", "event_params": {"guid": "g-42"}}]})
    assert run(queue, capture(1, body=body)).return_value()["events"] == 1
    assert run(queue, capture(2, minutes=1, body=body)).return_value()["duplicates"] == 1
    [event] = events(data_dir)
    assert (event["event_id"], event["capture_id"]) == ("g-42", capture(1)["id"])


def test_an_open_outside_the_repeat_window_or_from_another_panel_is_no_repeat(queue, data_dir):  # noqa: F811
    other_panel = json.dumps({"other": EMAIL_OPEN["smartech"]})
    for record in (capture(1), capture(2, minutes=10.5), capture(3, minutes=11, body=other_panel)):
        run(queue, record)
    assert [e["repeat_of"] for e in events(data_dir)] == [None, None, None]


def test_an_earlier_capture_processed_later_is_not_a_repeat_of_a_later_one(queue, data_dir):  # noqa: F811
    run(queue, capture(2, minutes=2))
    run(queue, capture(1, minutes=1))
    assert [e["repeat_of"] for e in events(data_dir)] == [None, None]


def test_the_repeat_window_is_a_setting(queue, data_dir, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DUMPER_REPEAT_WINDOW", "1h")
    run(queue, capture(1))
    run(queue, capture(2, minutes=50))
    assert events(data_dir)[1]["repeat_of"] == events(data_dir)[0]["event_id"]


def old_rule_events(record):
    """Return the events lines the rule before this one wrote for ``record``: hash ids, no repeat_of."""
    normalised = normalise(json.loads(record["body"]), record)
    for event, old_id in zip(normalised, legacy_ids(normalised)):
        del event["repeat_of"]
        event["event_id"] = old_id
    return normalised


def test_captures_processed_under_the_old_rule_write_nothing_new(queue, data_dir):  # noqa: F811
    first, second = capture(1), capture(2, minutes=1)
    os.makedirs(os.path.join(data_dir, "events"), mode=0o700)
    with open(kind_path(data_dir, "events", DAY), "w", encoding="utf-8") as handle:
        # The old rule wrote the first open and dropped the second, whose hash id was the same.
        handle.writelines(json.dumps(event) + "\n" for event in old_rule_events(first))
    upgrade._since.clear()
    assert run(queue, first).return_value()["events"] == 0
    assert run(queue, second).return_value()["events"] == 0
    assert len(events(data_dir)) == 1
    with open(upgrade.state_path(data_dir), encoding="utf-8") as handle:
        state = json.load(handle)
    assert state["rule"] == "capture-position" and state["since"] > first["received_at"]
    later = make_capture(BODY, "application/json", id=ids.encode(9))  # received now
    later["received_at"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert run(queue, later).return_value()["events"] == 1  # after the upgrade: a new open is a new event


def test_a_new_data_dir_judges_every_capture_by_the_new_rule(queue, data_dir):  # noqa: F811
    upgrade._since.clear()
    run(queue, capture(1))
    with open(upgrade.state_path(data_dir), encoding="utf-8") as handle:
        assert json.load(handle) == {"rule": "capture-position", "since": None}


def test_an_index_of_the_old_layout_is_rebuilt(queue, data_dir):  # noqa: F811
    run(queue, capture(1))
    path = os.path.join(data_dir, "spool", "ledger.sqlite3")
    os.unlink(path)
    with sqlite3.connect(path) as old:  # the layout before repeat_of: no capture, no contents
        old.execute("CREATE TABLE seen (kind TEXT, key TEXT, day TEXT, path TEXT, inode INTEGER, offset INTEGER)")
    from receiver.ledger import index as ledger_index

    ledger_index._open.clear()  # a new worker process opens the index afresh
    assert reprocess(queue, capture(1))["events"] == 0
    run(queue, capture(2, minutes=1))
    assert events(data_dir)[1]["repeat_of"] == events(data_dir)[0]["event_id"]


def test_list_stats_and_show_count_what_the_events_files_hold(queue, data_dir):  # noqa: F811
    from click.testing import CliRunner

    from scripts.view.listing import list_captures
    from scripts.view.show import show
    from scripts.view.stats import stats
    from tests.support.capture_factory import write_captures

    same_guid = json.dumps({"smartech": [{"webhook_name": "WEB_ADDTOCART", "event_params": {"guid": "g-7"}}]})
    records = [capture(1), capture(2, minutes=1), capture(3, minutes=2, body=same_guid), capture(4, 3, same_guid)]
    write_captures(data_dir, records)
    for record in records:
        run(queue, record)
    assert len(events(data_dir)) == 3  # two opens, one add-to-cart

    def cli(command, *args):
        result = CliRunner().invoke(command, ["--data-dir", data_dir, *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    listed = [json.loads(line) for line in cli(list_captures, "--json", "--since", "2026-12-01").splitlines()]
    assert {row["id"]: row["events"] for row in listed} == {r["id"]: n for r, n in zip(records, (1, 1, 1, 0))}
    day_row = [json.loads(line) for line in cli(stats, "--json", "--since", "2026-12-01").splitlines()][0]
    assert (day_row["key"], day_row["events"]) == (DAY, 3)
    second = json.loads(cli(show, records[1]["id"], "--json"))
    assert second["written"] == [
        {"state": "written", "capture": None, "repeat_of": f"c:{records[0]['id']}:0", "text": ANY_TEXT}
    ]
    fourth = cli(show, records[3]["id"])
    assert f"event g-7: already written by capture {records[2]['id']} (same guid)" in fourth
    assert f"repeat of event c:{records[0]['id']}:0" in cli(show, records[1]["id"])


class AnyText(str):
    """Equal to any string: the text is checked on the terminal view."""

    def __eq__(self, other):
        return isinstance(other, str)

    __hash__ = str.__hash__


ANY_TEXT = AnyText()


def test_the_inspector_shows_each_events_place_in_the_events_files(queue, env, data_dir):  # noqa: F811
    import base64

    from receiver.inspector import create_app
    from tests.support.capture_factory import write_captures

    same_guid = json.dumps({"smartech": [{"webhook_name": "WEB_ADDTOCART", "event_params": {"guid": "g-8"}}]})
    records = [capture(1), capture(2, minutes=1), capture(3, 2, same_guid), capture(4, 3, same_guid), capture(5, 4)]
    write_captures(data_dir, records)
    for record in records[:4]:  # the fifth is not processed yet
        run(queue, record)
    client = create_app({**env, "DUMPER_INSPECT_AUTH": "viewer:look"}).test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(b"viewer:look").decode()}

    def fates(record):
        answer = client.get(f"/api/captures/{record['id']}", headers=auth)
        assert answer.status_code == 200
        return [fate["text"] for fate in answer.get_json()["written"]]

    first_open = f"c:{records[0]['id']}:0"
    assert [fates(r) for r in records] == [
        ["written"],
        [f"repeat of event {first_open}"],
        ["written"],
        [f"already written by capture {records[2]['id']} (same guid)"],
        ["not written yet (or older than DUMPER_DEDUP_WINDOW)"],
    ]
    page = client.get(f"/captures/{records[1]['id']}", headers=auth).get_data(as_text=True)
    assert f'<td class="event-written">repeat of event {first_open}</td>' in page
