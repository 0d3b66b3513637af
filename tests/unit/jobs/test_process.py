"""The job end to end through real RQ and Redis: captures in, events and rejects files out."""

import base64
import json
import os
import stat

import pytest
from rq import SimpleWorker
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from receiver.capture.normalise import EVENT_FIELDS
from receiver.core.layout import day_name
from receiver.core.queues import get_queue
from receiver.core.settings import load
from receiver.forwarder.enqueue import JOB_FUNCTION, enqueue_capture
from tests.support.batches import forget, job_captures, ran
from tests.support.job_payloads import (
    CAPTURE_ID,
    EMAIL_API_BODY,
    RECEIVED_AT,
    RECEIVED_DAY,
    SEED_FORM_CONTENT_TYPE,
    SEED_GUID,
    SEED_WEB_BODY,
    SMS_CLICK_EVENT,
    TRICKY_ATTRIBUTES,
    form_body,
    make_capture,
)

TRAILING_DIV = "trailing text after JSON: '<div>'"


@pytest.fixture
def queue(env, monkeypatch):
    """Return the RQ queue of the test settings, with the job's environment set to match."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return get_queue(load(overrides=env))


class BurstWorker(SimpleWorker):
    """RQ's SimpleWorker without the pub/sub channel for remote commands: stopping its thread at the end of a
    burst sometimes waits 60 s in redis-py, and a burst in a test takes no commands."""

    def subscribe(self):
        pass

    def unsubscribe(self):
        pass


def run(queue, capture):
    """Enqueue ``capture`` as the receiver does, drain the queue with a real worker, return the job."""
    assert enqueue_capture(queue, capture, load())
    worker = BurstWorker([queue], connection=queue.connection, serializer=JSONSerializer)
    worker.work(burst=True)
    return ran(queue.connection, capture["id"])


def kind_path(data_dir, kind, day=RECEIVED_DAY):
    """Return the path of the ``kind`` file for ``day``."""
    return os.path.join(data_dir, kind, f"{day}.jsonl")


def read_lines(path):
    """Return the JSON records of a JSONL file."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def assert_private(path):
    """Check the file is 0600 and its directory 0700."""
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_seed_web_activity_becomes_one_event(queue, data_dir):
    job = run(queue, make_capture(SEED_WEB_BODY, SEED_FORM_CONTENT_TYPE))
    assert job.get_status() == JobStatus.FINISHED
    assert job.id.startswith("batch-") and job_captures(job.job) == [CAPTURE_ID]
    assert job.return_value() == {"capture_id": CAPTURE_ID, "events": 1, "warnings": [TRAILING_DIV]}
    path = kind_path(data_dir, "events")
    [event] = read_lines(path)
    assert list(event) == list(EVENT_FIELDS)
    assert event["event_id"] == SEED_GUID
    assert (event["capture_id"], event["received_at"], event["panel"]) == (CAPTURE_ID, RECEIVED_AT, "<panel_name>")
    assert (event["channel"], event["activity"], event["ts"]) == ("custom_activity", None, "2018-12-12T12:07:08")
    assert event["att_params"]["CITY"] == "Thane&Kalyan"
    assert event["warnings"] == [TRAILING_DIV]
    assert_private(path)
    assert not os.path.exists(os.path.join(data_dir, "rejects"))


def test_email_api_big_transid_is_written_exactly(queue, data_dir):
    job = run(queue, make_capture(EMAIL_API_BODY, "application/json"))
    assert job.return_value() == {"capture_id": CAPTURE_ID, "events": 1, "warnings": []}
    path = kind_path(data_dir, "events")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert f'"event_id":"c:{CAPTURE_ID}:0"' in text  # no guid: its capture and place, see test_normalise
    assert '"TRANSID":9007199254740993123' in text
    assert "9007199254740993024" not in text  # what a float round trip would have written
    [event] = read_lines(path)
    assert event["raw"]["TRANSID"] == 9007199254740993123
    assert (event["channel"], event["activity"], event["ts"]) == ("email", "open", "2023-11-14T22:13:20Z")
    assert_private(path)


def test_all_events_of_a_capture_land_together_with_non_ascii_intact(queue, data_dir):
    payload = {
        "first": [dict(SMS_CLICK_EVENT, att_params=TRICKY_ATTRIBUTES), {"webhook_name": "SMS_DELIVERED"}],
        "second": [{"webhook_name": "APN_VIEW", "event_params": {"guid": "g-apn"}}],
    }
    job = run(queue, make_capture(form_body(payload, quoted=True)))
    assert job.return_value() == {"capture_id": CAPTURE_ID, "events": 3, "warnings": []}
    path = kind_path(data_dir, "events")
    events = read_lines(path)
    assert [(e["event_id"], e["panel"], e["activity"]) for e in events] == [
        (f"c:{CAPTURE_ID}:0", "first", "click"),
        (f"c:{CAPTURE_ID}:1", "first", "delivered"),
        ("g-apn", "second", "view"),
    ]
    assert events[0]["att_params"] == TRICKY_ATTRIBUTES
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert "मुंबई" in text and "Zürich" in text  # written as UTF-8, not \u escapes


def test_a_capture_handed_over_twice_is_queued_once(queue, data_dir):
    capture = make_capture(SEED_WEB_BODY, SEED_FORM_CONTENT_TYPE)
    assert enqueue_capture(queue, capture, load())
    assert not enqueue_capture(queue, capture, load())
    assert queue.count == 1


def test_reprocessing_a_capture_writes_no_second_copy_of_its_events(queue, data_dir):
    capture = make_capture(SEED_WEB_BODY, SEED_FORM_CONTENT_TYPE)
    run(queue, capture)
    forget(queue.connection, capture["id"])  # as after its TTL
    again = run(queue, capture)
    assert again.return_value()["events"] == 0 and again.return_value()["duplicates"] == 1
    assert len(read_lines(kind_path(data_dir, "events"))) == 1
    assert os.listdir(os.path.join(data_dir, "events")) == [f"{RECEIVED_DAY}.jsonl"]


def test_duplicate_ids_inside_one_payload_are_written_once(queue, data_dir):
    body = '{"p": [{"webhook_name": "SMS_CLICK", "guid": "g-1"}, {"webhook_name": "SMS_CLICK", "guid": "g-1"}]}'
    job = run(queue, make_capture(body, "application/json"))
    assert job.return_value()["duplicates"] == 1
    assert [e["event_id"] for e in read_lines(kind_path(data_dir, "events"))] == ["g-1"]


def test_identical_events_without_guid_in_one_payload_are_all_written(queue, data_dir):
    body = '[{"TRANSID": 1, "EVENT": "sent", "TIMESTAMP": 5}, {"TRANSID": 1, "EVENT": "sent", "TIMESTAMP": 5}]'
    job = run(queue, make_capture(body, "application/json"))
    assert "duplicates" not in job.return_value() and job.return_value()["events"] == 2
    first, second = read_lines(kind_path(data_dir, "events"))
    assert (first["event_id"], second["event_id"]) == (f"c:{CAPTURE_ID}:0", f"c:{CAPTURE_ID}:1")
    assert first["repeat_of"] is None and second["repeat_of"] is None  # one capture: no repeat of itself


@pytest.mark.parametrize(
    "capture, reason",
    [
        (make_capture("data=%7B%22p%22%3A%5B"), "invalid JSON: Expecting value: line 1 column 7 (char 6)"),
        (make_capture(""), "empty body"),
        (
            make_capture(base64.b64encode(b"data=\xe9t\xe9").decode(), body_encoding="base64"),
            "body is not valid UTF-8 (byte 5)",
        ),
        (make_capture("payload=%7B%7D"), "form body has no 'data' field (fields: 'payload')"),
        (make_capture('{"p": []}', "text/plain"), "unexpected content type 'text/plain'"),
        (make_capture("data=%2242%22"), "payload is a string, expected an object of panels or an array of events"),
        (
            make_capture('{"p": {"webhook_name": "SMS_CLICK"}}', "application/json"),
            "panel 'p' holds an object, expected an array of events",
        ),
    ],
    ids=["invalid-json", "empty-body", "not-utf8", "missing-data", "text-plain", "scalar", "panel-not-array"],
)
def test_bad_input_is_rejected_without_failing_the_job(queue, data_dir, capture, reason):
    job = run(queue, capture)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"capture_id": CAPTURE_ID, "events": 0, "rejected": True, "reason": reason}
    path = kind_path(data_dir, "rejects")
    [reject] = read_lines(path)
    assert list(reject) == ["capture_id", "source", "received_at", "rejected_at", "reason"]  # docs/formats.md
    assert reject["reason"] == reason
    assert (reject["capture_id"], reject["source"], reject["received_at"]) == (CAPTURE_ID, "default", RECEIVED_AT)
    assert reject["rejected_at"].endswith("Z") and reject["rejected_at"] > RECEIVED_AT
    assert_private(path)
    assert not os.path.exists(os.path.join(data_dir, "events"))


@pytest.mark.parametrize("body", ["[]", "{}", '{"p": []}', "data=%5B%5D"])
def test_empty_payloads_write_nothing(queue, data_dir, body):
    content_type = "application/x-www-form-urlencoded" if body.startswith("data=") else "application/json"
    job = run(queue, make_capture(body, content_type))
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"capture_id": CAPTURE_ID, "events": 0, "warnings": []}
    assert not os.path.exists(data_dir)


def test_settings_are_read_at_each_job(queue, data_dir, tmp_path, monkeypatch):
    run(queue, make_capture(EMAIL_API_BODY, "application/json"))
    other = str(tmp_path / "other")
    monkeypatch.setenv("DUMPER_DATA_DIR", other)
    run(
        queue,
        make_capture(EMAIL_API_BODY.replace("opened", "clicked"), "application/json", id="01E1ZZZZZZZZZZZZZZZZZZZZZZ"),
    )
    assert len(read_lines(kind_path(data_dir, "events"))) == 1
    assert len(read_lines(kind_path(other, "events"))) == 1


def test_disk_errors_fail_the_job(queue, data_dir, monkeypatch):
    monkeypatch.setenv("DUMPER_RETRY_INTERVALS", "none")
    with open(data_dir, "w", encoding="utf-8") as handle:  # a file where the data directory should be
        handle.write("not a directory")
    job = run(queue, make_capture(EMAIL_API_BODY, "application/json"))
    assert job.get_status() == JobStatus.FAILED
    assert job.job in queue.failed_job_registry
    assert any(name in job.latest_result().exc_string for name in ("FileExistsError", "NotADirectoryError"))


@pytest.mark.parametrize(
    "received_at, day",
    [
        ("2020-01-02T23:30:00-01:00", "2020-01-03"),
        ("2020-01-02T23:30:00", "2020-01-02"),
        (None, None),
        ("yesterday-ish", None),
    ],
    ids=["offset", "naive", "missing", "garbage"],
)
def test_events_are_filed_by_the_utc_day_of_received_at(queue, data_dir, received_at, day):
    run(queue, make_capture(EMAIL_API_BODY, "application/json", received_at=received_at))
    [event] = read_lines(kind_path(data_dir, "events", day or day_name()))
    assert event["received_at"] == received_at


def test_a_capture_that_is_not_an_object_is_rejected(queue, data_dir):
    job = queue.enqueue(JOB_FUNCTION, args=("not a capture",))
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    [reject] = read_lines(kind_path(data_dir, "rejects", day_name()))
    assert (reject["capture_id"], reject["reason"]) == (None, "capture has no text body")
