"""Normalising decoded payloads into events: shapes, ids, channels, activities, timestamps."""

import copy
import hashlib
import json
import time

import pytest

from receiver.capture.decode import decode_capture
from receiver.capture.eventid import MAX_GUID_CHARS, content_id, legacy_ids
from receiver.capture.normalise import EVENT_FIELDS, NormaliseError, count_events, normalise
from receiver.capture.vocabulary import MAX_ACTIVITY_CHARS
from tests.support.job_payloads import (
    BIG_TRANSID,
    CAPTURE_ID,
    EMAIL_API_BODY,
    RECEIVED_AT,
    SEED_FORM_CONTENT_TYPE,
    SEED_GUID,
    SEED_WEB_BODY,
    SMS_CLICK_EVENT,
    make_capture,
    panel_payload,
)

CAPTURE = make_capture("unused", source="eu-panel")


def events_of(value, warnings=()):
    """Normalise ``value`` as if it came in ``CAPTURE``."""
    return normalise(value, CAPTURE, list(warnings))


def one_event(event, panel="panel1"):
    """Normalise a payload holding just ``event`` and return its one event."""
    [record] = events_of(panel_payload(event, panel=panel))
    return record


def place(position, capture=CAPTURE):
    """Return the id formats.md promises an event without a guid: its capture and its position in it."""
    return f"c:{capture['id']}:{position}"


def hash_id(event, panel="panel1", source="eu-panel"):
    """Return the content hash formats.md describes (and the old rule's id): sha256 of source, panel and event."""
    text = json.dumps([source, panel, event], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "h:" + hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def test_seed_web_activity_sample_normalises_fully():
    capture = make_capture(SEED_WEB_BODY, SEED_FORM_CONTENT_TYPE)
    decoded = decode_capture(capture)
    raw = copy.deepcopy(decoded.value["<panel_name>"][0])
    [event] = normalise(decoded.value, capture, decoded.warnings)
    assert event == {
        "event_id": SEED_GUID,
        "repeat_of": None,
        "capture_id": CAPTURE_ID,
        "source": "default",
        "received_at": RECEIVED_AT,
        "panel": "<panel_name>",
        "webhook_name": "Test Webhook URL for Automation",
        "channel": "custom_activity",
        "activity": None,
        "foreignkey": "<foreignkey>",
        "identity": "<identity>",
        "journey_name": "act on webhook trigger test1",
        "msgid": "103",
        "ts": "2018-12-12T12:07:08",
        "ts_raw": 181212120708,
        "custom_params": {},
        "att_params": {"CITY": "Thane&Kalyan", "STATE": "Maharashtra11"},
        "payload_params": raw["payload_params"],
        "raw": raw,
        "warnings": ["trailing text after JSON: '<div>'"],
    }
    assert list(event) == list(EVENT_FIELDS)


def test_sms_click_sample_normalises_with_its_place_as_id():
    event = one_event(copy.deepcopy(SMS_CLICK_EVENT))
    assert list(event) == list(EVENT_FIELDS)
    assert event["event_id"] == place(0)
    assert event["repeat_of"] is None  # the ledger fills it
    assert (event["channel"], event["activity"]) == ("sms", "click")
    assert event["foreignkey"] == "9999999997"
    assert event["identity"] is None and event["journey_name"] is None and event["msgid"] is None
    assert event["ts"] is None and event["ts_raw"] is None
    assert event["custom_params"] == SMS_CLICK_EVENT["custom_params"]
    assert event["att_params"] == SMS_CLICK_EVENT["att_params"]
    assert event["payload_params"] is None
    assert event["raw"] == SMS_CLICK_EVENT
    assert event["source"] == "eu-panel" and event["panel"] == "panel1"
    assert event["warnings"] == []


@pytest.mark.parametrize(
    "webhook_name, channel, activity",
    [
        ("SMS_CLICK", "sms", "click"),
        ("SMS_DELIVERED", "sms", "delivered"),
        ("Email_CLICK", "email", "click"),
        ("EMAIL_OPEN", "email", "open"),
        ("EMAIL_BOUNCE", "email", "bounce"),
        ("EMAIL_HARD_BOUNCE", "email", "bounce"),
        ("APN_VIEW", "apn", "view"),
        ("apn_click", "apn", "click"),
        ("BPN_CLICK", "bpn", "click"),
        ("BPN_VIEW", "bpn", "view"),
    ],
)
def test_channel_and_activity_come_from_webhook_name(webhook_name, channel, activity):
    event = one_event({"webhook_name": webhook_name, "event_params": {"foreignkey": "1"}})
    assert (event["channel"], event["activity"], event["warnings"]) == (channel, activity, [])


def test_custom_params_channel_wins_and_is_lower_cased():
    event = one_event({"webhook_name": "APN_CLICK", "custom_params": {"channel": " APN "}, "channel": "sms"})
    assert event["channel"] == "apn"
    event = one_event({"webhook_name": "SMS_CLICK", "custom_params": {"channel": "Email"}})
    assert event["channel"] == "email"


def test_top_level_channel_is_used_without_custom_params_channel():
    event = one_event({"webhook_name": "SMS_CLICK", "custom_params": {}, "channel": "BPN"})
    assert event["channel"] == "bpn"


def test_unknown_webhook_activity_is_null_with_warning():
    event = one_event({"webhook_name": "SMS_FORWARDED"})
    assert (event["channel"], event["activity"]) == ("sms", None)
    assert event["warnings"] == ["unknown activity 'FORWARDED' in webhook_name 'SMS_FORWARDED'"]


def test_free_text_webhook_name_of_custom_activity_has_no_warning():
    event = one_event({"channel": "custom_activity", "webhook_name": "Test Webhook URL for Automation"})
    assert (event["channel"], event["activity"], event["warnings"]) == ("custom_activity", None, [])


def test_free_text_webhook_name_of_a_channel_event_warns():
    event = one_event({"custom_params": {"channel": "sms"}, "webhook_name": "My hook"})
    assert (event["channel"], event["activity"]) == ("sms", None)
    assert event["warnings"] == ["cannot tell the activity from webhook_name 'My hook'"]


def test_event_without_any_channel_warns():
    event = one_event({"webhook_name": "Hook_CLICK"})
    assert (event["channel"], event["activity"]) == (None, None)
    assert event["warnings"] == [
        "cannot tell the channel of webhook_name 'Hook_CLICK'",
        "cannot tell the activity from webhook_name 'Hook_CLICK'",
    ]


def test_malformed_event_params_and_webhook_name_warn_but_do_not_reject():
    event = one_event({"webhook_name": 7, "event_params": "oops", "channel": "custom_activity", "guid": "g-1"})
    assert event["webhook_name"] is None
    assert event["event_id"] == "g-1"
    assert event["warnings"] == [
        "event_params is a string, expected an object",
        "webhook_name is a number, expected a string",
    ]


def test_guid_is_the_event_id_from_event_params_or_top_level():
    assert one_event({"webhook_name": "SMS_CLICK", "event_params": {"guid": "g-params"}})["event_id"] == "g-params"
    assert one_event({"webhook_name": "SMS_CLICK", "guid": "g-top"})["event_id"] == "g-top"
    assert one_event({"webhook_name": "SMS_CLICK", "guid": 12345678901234567890123})["event_id"] == (
        "12345678901234567890123"
    )


@pytest.mark.parametrize(
    "guid",
    ["", "   ", None, True, [], {}, {"id": "g"}],
    ids=["empty", "blank", "null", "boolean", "array", "object", "object-with-id"],
)
def test_a_guid_that_is_not_a_non_empty_string_or_number_gives_the_place_id(guid):
    event = {"webhook_name": "SMS_CLICK", "event_params": {"guid": guid}}
    record = one_event(event)
    assert record["event_id"] == place(0)
    assert record["warnings"] == []


def test_a_guid_longer_than_the_cap_gives_the_place_id_with_warning():
    long_guid = "g" * (MAX_GUID_CHARS + 1)
    assert one_event({"webhook_name": "SMS_CLICK", "guid": "g" * MAX_GUID_CHARS})["event_id"] == "g" * MAX_GUID_CHARS
    event = {"webhook_name": "SMS_CLICK", "guid": long_guid}
    record = one_event(event)
    assert record["event_id"] == place(0)
    assert record["warnings"] == [
        f"guid longer than {MAX_GUID_CHARS} characters; the event id is its place in the capture"
    ]


def test_ids_without_a_guid_are_the_capture_and_the_position_in_payload_order():
    payload = {
        "alpha": [{"webhook_name": "SMS_CLICK"}, {"webhook_name": "SMS_DELIVERED", "event_params": {"guid": "g"}}],
        "beta": [],
        "gamma": [{"webhook_name": "APN_VIEW"}],
    }
    events = events_of(payload)
    assert [(e["panel"], e["event_id"]) for e in events] == [("alpha", place(0)), ("alpha", "g"), ("gamma", place(2))]
    assert events_of(json.loads(json.dumps(payload))) == events  # processed again: the same ids


def test_the_content_hash_ignores_key_order_and_names_source_and_panel():
    assert content_id("s", "p", {"b": 1, "a": {"y": 2, "x": 1}}) == content_id(
        "s", "p", {"a": {"x": 1, "y": 2}, "b": 1}
    )
    assert content_id("s", "p", {"a": 1}) == hash_id({"a": 1}, "p", "s")
    assert (
        len({content_id("s", "p", {}), content_id("t", "p", {}), content_id("s", "q", {}), content_id("s", None, {})})
        == 4
    )


def test_the_same_event_in_another_capture_is_another_event_with_an_id_of_its_own():
    payload = {"p": [{"webhook_name": "SMS_CLICK", "event_params": {"foreignkey": "1"}}]}
    later = make_capture("unused", source="eu-panel", id="01E1ZZZZZZZZZZZZZZZZZZZZZZ")
    first, again = normalise(payload, CAPTURE), normalise(payload, later)
    assert (first[0]["event_id"], again[0]["event_id"]) == (place(0), place(0, later))
    assert first[0]["event_id"] != again[0]["event_id"]


def test_identical_events_in_one_capture_each_have_their_place():
    click = {"webhook_name": "SMS_CLICK", "event_params": {"foreignkey": "1"}}
    events = events_of({"p": [click, {"webhook_name": "SMS_DELIVERED"}, dict(click), dict(click)]})
    assert [e["event_id"] for e in events] == [place(0), place(1), place(2), place(3)]


def test_legacy_ids_are_the_old_rules_hashes_numbered_from_the_second_identical_event():
    click = {"webhook_name": "SMS_CLICK", "event_params": {"foreignkey": "1"}}
    with_guid = {"webhook_name": "SMS_CLICK", "guid": "g"}
    events = events_of({"p": [click, with_guid, {"webhook_name": "SMS_DELIVERED"}, dict(click), dict(click)]})
    base = hash_id(click, "p")
    assert legacy_ids(events) == [base, None, hash_id({"webhook_name": "SMS_DELIVERED"}, "p"), base + ":2", base + ":3"]


def test_email_api_clicks_of_one_message_at_one_time_on_different_urls_keep_distinct_ids():
    first = {"TRANSID": 5, "EVENT": "clicked", "TIMESTAMP": 1700000000, "URL": "https://a.test/"}
    second = dict(first, URL="https://b.test/")
    events = events_of([first, second])
    assert [e["event_id"] for e in events] == [place(0), place(1)]
    assert content_id("eu-panel", None, first) != content_id("eu-panel", None, second)  # never one another's repeat


def test_identity_foreignkey_journey_and_msgid_are_copied():
    event = one_event(
        {
            "webhook_name": "EMAIL_OPEN",
            "msgid": "m-9",
            "journey_name": "Welcome",
            "event_params": {"foreignkey": "fk-1", "identity": "user@example.com"},
        }
    )
    assert (event["foreignkey"], event["identity"], event["journey_name"], event["msgid"]) == (
        "fk-1",
        "user@example.com",
        "Welcome",
        "m-9",
    )


@pytest.mark.parametrize(
    "where, raw, iso",
    [
        ("params", 181212120708, "2018-12-12T12:07:08"),
        ("params", "181212120708", "2018-12-12T12:07:08"),
        ("top", "990101000000", "1999-01-01T00:00:00"),
        ("params", 51212120708, "2005-12-12T12:07:08"),
    ],
)
def test_smartech_ts_is_naive_iso(where, raw, iso):
    event = {"webhook_name": "SMS_CLICK"}
    if where == "params":
        event["event_params"] = {"ts": raw}
    else:
        event["ts"] = raw
    record = one_event(event)
    assert (record["ts"], record["ts_raw"], record["warnings"]) == (iso, raw, [])


@pytest.mark.parametrize("raw", ["2018-12-12", "181312120708", 18121212070, "yesterday", 1.5, True, -1])
def test_unparsable_smartech_ts_is_null_with_warning(raw):
    record = one_event({"webhook_name": "SMS_CLICK", "event_params": {"ts": raw}})
    assert record["ts"] is None
    assert record["ts_raw"] == raw
    assert record["warnings"] == [f"unparsable ts {raw!r}, expected yymmddHHMMSS"]


def test_email_api_event_with_big_transid():
    value = decode_capture(make_capture(EMAIL_API_BODY, "application/json")).value
    [event] = events_of(value)
    assert event["event_id"] == place(0)
    assert event["raw"]["TRANSID"] == BIG_TRANSID
    assert (event["panel"], event["channel"], event["activity"]) == (None, "email", "open")
    assert event["identity"] == "a@b.c"
    assert (event["ts"], event["ts_raw"]) == ("2023-11-14T22:13:20Z", 1700000000)
    assert event["webhook_name"] is None and event["foreignkey"] is None
    assert event["warnings"] == []
    assert list(event) == list(EVENT_FIELDS)


@pytest.mark.parametrize(
    "word, activity",
    [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("opened", "open"),
        ("open", "open"),
        ("OPENED", "open"),
        ("clicked", "click"),
        ("click", "click"),
        ("bounced", "bounce"),
        ("bounce", "bounce"),
        ("hardbounce", "bounce"),
        ("softbounce", "bounce"),
        ("dropped", "dropped"),
        ("spam", "spam"),
        ("unsubscribed", "unsubscribe"),
        ("unsubscribe", "unsubscribe"),
        ("invalid", "invalid"),
    ],
)
def test_email_api_event_vocabulary(word, activity):
    [event] = events_of([{"TRANSID": 1, "EVENT": word}])
    assert (event["activity"], event["warnings"]) == (activity, [])


def test_email_api_repeated_opens_of_one_message_keep_distinct_ids():
    opened = {"TRANSID": 5, "EVENT": "opened", "TIMESTAMP": 1700000000}
    first, second, again = events_of([opened, dict(opened, TIMESTAMP=1700000060), dict(opened)])
    # The same open twice in one batch is two events as far as the payload says: both are kept.
    assert [first["event_id"], second["event_id"], again["event_id"]] == [place(0), place(1), place(2)]


def test_email_api_unknown_event_and_bad_timestamp_warn():
    [event] = events_of([{"TRANSID": "77", "EVENT": "deferred", "TIMESTAMP": "soon"}])
    assert (event["activity"], event["ts"], event["ts_raw"]) == (None, None, "soon")
    assert event["warnings"] == [
        "unknown Email API EVENT 'deferred'",
        "unparsable TIMESTAMP 'soon', expected Unix seconds",
    ]


def test_email_api_string_timestamp_and_missing_transid():
    [first, second] = events_of([{"EVENT": "sent", "TIMESTAMP": "1700000000"}, {"EVENT": "sent"}])
    assert (first["ts"], first["event_id"]) == ("2023-11-14T22:13:20Z", place(0))
    assert (second["ts"], second["event_id"]) == (None, place(1))


def test_a_capture_without_an_id_falls_back_to_content_hashes():
    click = {"webhook_name": "SMS_CLICK"}
    events = normalise({"p": [click, dict(click)]}, {"source": "eu-panel"})
    assert [e["event_id"] for e in events] == [hash_id(click, "p"), hash_id(click, "p") + ":2"]


@pytest.mark.parametrize("value", [[], {}, {"p": []}, {"p": [], "q": []}], ids=["array", "object", "panel", "panels"])
def test_empty_payloads_have_no_events(value):
    assert events_of(value) == []


@pytest.mark.parametrize(
    "value, reason",
    [
        ({"p": {"webhook_name": "SMS_CLICK"}}, "panel 'p' holds an object, expected an array of events"),
        ({"ok": [], "p": "text"}, "panel 'p' holds a string, expected an array of events"),
        ({"p": [{"webhook_name": "SMS_CLICK"}, 3]}, "event 1 in panel 'p' is a number, expected an object"),
        ([{"EVENT": "sent"}, None], "event 1 in top-level array is a null, expected an object"),
        ([["nested"]], "event 0 in top-level array is an array, expected an object"),
        ("text", "payload is a string, expected an object of panels or an array of events"),
        (42, "payload is a number, expected an object of panels or an array of events"),
        (None, "payload is a null, expected an object of panels or an array of events"),
        (True, "payload is a boolean, expected an object of panels or an array of events"),
    ],
)
def test_wrong_shapes_are_rejected(value, reason):
    with pytest.raises(NormaliseError) as info:
        events_of(value)
    assert str(info.value) == reason


def test_decode_warnings_go_on_every_event_first_and_are_not_shared():
    events = events_of({"p": [{"webhook_name": "SMS_CLICK"}, {"webhook_name": "SMS_NOPE"}]}, ["from decode"])
    assert events[0]["warnings"] == ["from decode"]
    assert events[1]["warnings"] == ["from decode", "unknown activity 'NOPE' in webhook_name 'SMS_NOPE'"]
    events[0]["warnings"].append("changed")
    assert events[1]["warnings"][0] == "from decode" and len(events[1]["warnings"]) == 2


def test_raw_event_is_left_unchanged():
    payload = {"p": [copy.deepcopy(SMS_CLICK_EVENT)]}
    before = copy.deepcopy(payload)
    [event] = events_of(payload)
    assert payload == before
    assert event["raw"] == before["p"][0]


@pytest.mark.parametrize(
    "webhook_name, channel, activity",
    [
        ("  SMS_CLICK \t", "sms", "click"),
        ("Email_Hard-Bounce", "email", "bounce"),
        ("EMAIL_ soft bounce ", "email", "bounce"),
        ("BPN_VIEW_", "bpn", "view"),
    ],
)
def test_webhook_names_are_read_with_spaces_case_and_separators_ignored(webhook_name, channel, activity):
    event = one_event({"webhook_name": webhook_name})
    assert (event["channel"], event["activity"], event["warnings"]) == (channel, activity, [])


@pytest.mark.parametrize("webhook_name", ["SMS", "SMS_", "_CLICK", "S1S_CLICK", "SMŠ_CLICK", ""])
def test_webhook_names_without_an_ascii_prefix_and_a_rest_give_no_channel(webhook_name):
    event = one_event({"webhook_name": webhook_name})
    assert (event["channel"], event["activity"]) == (None, None)
    assert event["warnings"][0] == f"cannot tell the channel of webhook_name {webhook_name!r}"


def test_an_activity_longer_than_the_cap_is_unknown():
    padded = "CLICK" + " " * (MAX_ACTIVITY_CHARS - 4)
    assert one_event({"webhook_name": "SMS_CLICK" + " " * (MAX_ACTIVITY_CHARS - 5) + "x"})["activity"] is None
    assert one_event({"webhook_name": "SMS_" + padded + "x"})["activity"] is None
    assert one_event({"webhook_name": "SMS_" + "C L I C K"})["activity"] == "click"


@pytest.mark.parametrize(
    "name",
    [
        "a_" + " " * 300_000 + "x",  # backtracked quadratically in the old pattern: minutes
        "SMS_" + " " * 300_000 + "x",
        "SMS_" + "_-" * 150_000 + "click",
        " " * 300_000 + "SMS_CLICK" + " " * 300_000 + "!",
    ],
    ids=["other-prefix", "sms-prefix", "separators", "padded"],
)
def test_hostile_webhook_names_take_linear_time(name):
    started = time.monotonic()
    event = one_event({"webhook_name": name, "EVENT": name})
    assert time.monotonic() - started < 0.5  # the old regex took over a minute on the first
    assert event["activity"] is None
    assert all(len(warning) < 200 for warning in event["warnings"])  # previews are cut, not the whole name


def test_warnings_preview_big_values_briefly():
    big = {"k" + str(i): [["x" * 1000]] for i in range(1000)}
    [event] = events_of([{"EVENT": big, "TIMESTAMP": big}])
    shown = "{'k0': [['" + "x" * 27 + "..." + "x" * 20 + "…"  # reprlib's cut string, then the preview's cut
    assert event["warnings"] == [
        f"unknown Email API EVENT {shown}",
        f"unparsable TIMESTAMP {shown}, expected Unix seconds",
    ]


@pytest.mark.parametrize("raw", [10**12, 10**99, -(10**99)], ids=["13-digits", "100-digits", "negative"])
def test_integer_ts_with_more_than_twelve_digits_is_unparsable(raw):
    record = one_event({"webhook_name": "SMS_CLICK", "event_params": {"ts": raw}})
    assert record["ts"] is None and record["ts_raw"] == raw


def test_a_long_timestamp_string_is_unparsable_without_reading_it():
    raw = "1" * 3_000_000
    [event] = events_of([{"EVENT": "sent", "TIMESTAMP": raw}])
    assert event["ts"] is None
    assert event["warnings"] == ["unparsable TIMESTAMP '" + "1" * 59 + "…, expected Unix seconds"]


@pytest.mark.parametrize(
    "value, count",
    [
        ([], 0),
        ([{}, {}], 2),
        ({"p": [{}], "q": [{}, {}], "r": []}, 3),
        ({"p": [{}], "q": "x"}, 1),
        ("x", 0),
        (None, 0),
    ],
)
def test_count_events_counts_before_normalising(value, count):
    assert count_events(value) == count
