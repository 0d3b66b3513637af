"""Masking for the views: the matching rule, the kept ends, the body text (form, data= JSON, JSON), readings."""

import base64
import json
from urllib.parse import parse_qs

from receiver.core.settings import load
from receiver.replay import samples
from receiver.store.masking import DOT, Mask, MaskedReading, environment_mask, mask_text, masked_pair
from receiver.store.reading import Reading
from tests.support.capture_factory import CUSTOMER, days_ago, make_capture, smartech_body

MASK = Mask(load(environ={}).mask_fields)
EMAIL_API = '[{"TRANSID": 12, "EMAIL": "asha.rao@example.com", "EVENT": "opened", "TIMESTAMP": 1700000000}]'


def test_a_value_keeps_a_quarter_at_each_end_three_characters_at_most():
    assert mask_text(samples.MOBILE) == "+91•••••••997"
    assert mask_text("Asha") == "A••a"
    assert mask_text("abc") == "•••"
    assert mask_text("") == DOT


def test_names_match_whatever_their_case_dashes_and_underscores():
    mask = Mask(["e-mail", "date_of_birth"])
    assert all(mask.names(name) for name in ["EMAIL", "Email", "e_mail", "E-Mail", "DATE-OF-BIRTH", "dateOfBirth"])
    assert not any(mask.names(name) for name in ["emails", "CITY", 3, None])


def test_the_default_covers_smartech_attributes_and_the_email_api():
    assert all(MASK.names(name) for name in ["EMAIL", "MOBILE", "PHONE", "NAME", "FIRST_NAME", "DOB", "foreignkey"])
    assert load(environ={"DUMPER_MASK_FIELDS": "none"}).mask_fields == ()


def test_a_tree_is_masked_at_any_depth_and_left_whole_elsewhere():
    value = {"att_params": {"MOBILE": samples.MOBILE, "CITY": "Thane"}, "x": [{"name": {"first": "Asha"}}]}
    shown = MASK.tree(value)
    assert shown == {"att_params": {"MOBILE": "+91•••••••997", "CITY": "Thane"}, "x": [{"name": {"first": "A••a"}}]}
    assert value["att_params"]["MOBILE"] == samples.MOBILE  # a copy: the real value is untouched


def test_a_form_body_masks_the_json_of_its_data_field():
    record = make_capture(days_ago(0), smartech_body("SMS_CLICK"))
    shown = MASK.record(record)
    data = json.loads(parse_qs(shown["body"])["data"][0])
    event = data["smartech_panel"][0]
    assert event["att_params"]["MOBILE"] == "+91•••••••997" and event["event_params"]["foreignkey"] == "99••••••97"
    assert samples.MOBILE not in shown["body"] and CUSTOMER not in shown["body"]
    assert record["body"] != shown["body"] and shown["id"] == record["id"] and shown["size"] == record["size"]


def test_a_json_body_and_a_base64_body_are_masked_in_their_text():
    record = make_capture(days_ago(0), EMAIL_API, content_type="application/json")
    assert "asha.rao@example.com" not in MASK.record(record)["body"]
    raw = make_capture(days_ago(0), b'{"email": "asha.rao@example.com", "b": "\xff"}', content_type="application/json")
    assert raw["body_encoding"] == "base64"
    shown = base64.b64decode(MASK.record(raw)["body"])
    assert b"asha.rao@example.com" not in shown and shown.endswith(b'"b": "\xff"}')


def test_a_query_and_form_fields_named_like_a_masked_field_are_masked():
    record = {**make_capture(days_ago(0), "email=asha%40example.com&city=Thane"), "query": "mobile=%2B919999999997"}
    shown = MASK.record(record)
    assert parse_qs(shown["body"]) == {"email": ["ash••••••••••com"], "city": ["Thane"]}
    assert parse_qs(shown["query"])["mobile"] == ["+91•••••••997"]


def test_a_masked_reading_masks_payload_and_events_but_keeps_status_counts_and_fates(data_dir):
    record = make_capture(days_ago(0), smartech_body("SMS_CLICK"))
    real = Reading(record, data_dir)
    masked = MaskedReading(real, MASK)
    assert masked.events[0]["foreignkey"] == "99••••••97" and masked.distinct("foreignkey") == ["99••••••97"]
    assert masked.events[0]["event_id"] == real.events[0]["event_id"]
    assert masked.status == real.status and masked.event_count == real.event_count
    assert [fate.api() for fate in masked.fates] == [fate.api() for fate in real.fates]
    assert real.events[0]["foreignkey"] == CUSTOMER


def test_no_mask_shows_everything_as_it_is(monkeypatch):
    record = make_capture(days_ago(0), smartech_body("SMS_CLICK"))
    analysis = Reading(record)
    assert masked_pair(record, analysis, None) == (record, analysis)
    assert environment_mask(unmask=True) is None
    monkeypatch.setenv("DUMPER_MASK_FIELDS", "city")
    mask = environment_mask()
    assert mask is not None and mask.names("CITY") and not mask.names("MOBILE")
