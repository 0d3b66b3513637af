"""Decoding capture bodies: form and JSON bodies, lenient JSON, and every reject reason."""
import base64
import json

import pytest

from jobs.decode import DecodeError, Decoded, decode_capture
from job_payloads import (
    BIG_TRANSID, EMAIL_API_BODY, FORM, SEED_FORM_CONTENT_TYPE, SEED_WEB_BODY, SMS_CLICK_EVENT,
    TRICKY_ATTRIBUTES, form_body, make_capture, panel_payload,
)


def rejected(capture):
    """Return the reason decoding ``capture`` is rejected with."""
    with pytest.raises(DecodeError) as info:
        decode_capture(capture)
    return str(info.value)


def test_seed_web_activity_sample_decodes_with_trailing_div_warning():
    decoded = decode_capture(make_capture(SEED_WEB_BODY, SEED_FORM_CONTENT_TYPE))
    assert isinstance(decoded, Decoded)
    assert decoded.warnings == ["trailing text after JSON: '<div>'"]
    [event] = decoded.value["<panel_name>"]
    assert event["att_params"] == {"CITY": "Thane&Kalyan", "STATE": "Maharashtra11"}
    assert event["webhook_name"] == "Test Webhook URL for Automation"
    assert event["event_params"]["ts"] == 181212120708
    assert event["payload_params"]["items"][1]["price_s"] == 9990.91


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_form_values_with_ampersand_plus_and_non_ascii_survive(quoted):
    payload = panel_payload(dict(SMS_CLICK_EVENT, att_params=TRICKY_ATTRIBUTES))
    body = form_body(payload, quoted=quoted)
    # The body really carries each tricky encoding, so the decoder is exercised on all of them.
    assert "%26" in body and "%2B" in body and "Ann+Lee" in body and "%C3%BC" in body and "%E0%A4" in body
    assert body.startswith('data="') is quoted
    decoded = decode_capture(make_capture(body))
    assert decoded.value == payload
    assert decoded.value["panel1"][0]["att_params"]["PLUS"] == "a+b"
    assert decoded.warnings == []


def test_data_field_is_found_among_other_fields():
    payload = panel_payload(SMS_CLICK_EVENT)
    body = form_body(payload, quoted=True, extra=[("token", "x&y"), ("empty", "")])
    assert decode_capture(make_capture(body)).value == payload


def test_percent_encoded_quotes_are_not_unwrapped():
    # Only literal quotes are Smartech's wrapper; %22 quotes are part of the JSON (here a JSON string).
    decoded = decode_capture(make_capture("data=%22%7B%7D%22"))
    assert decoded.value == "{}"


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded ",
    "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
    "  application/x-www-form-urlencoded;charset=utf-8  ",
])
def test_form_content_type_is_matched_loosely(content_type):
    assert decode_capture(make_capture("data=%5B%5D", content_type)).value == []


@pytest.mark.parametrize("content_type", [
    "application/json", "APPLICATION/JSON; charset=utf-8", " application/json ", "application/vnd.netcore+json",
])
def test_json_content_types_parse_the_raw_body(content_type):
    decoded = decode_capture(make_capture('{"p": [{"webhook_name": "SMS_CLICK"}]}', content_type))
    assert decoded == Decoded({"p": [{"webhook_name": "SMS_CLICK"}]}, [])


def test_email_api_big_transid_stays_an_exact_int():
    decoded = decode_capture(make_capture(EMAIL_API_BODY, "application/json"))
    transid = decoded.value[0]["TRANSID"]
    assert type(transid) is int
    assert transid == BIG_TRANSID
    assert transid != int(float(BIG_TRANSID))


RAW_JSON_WARNING = "form body has no 'data' field but is raw JSON; parsed it as JSON"


@pytest.mark.parametrize("body", [
    '  {"p": []}',
    '{"p": [], "url": "https://x.test/?a=1&data=5"}',  # a data= inside the JSON text is not a form field
    '{"p": [], "url": "https://x.test/?data=%FF"}',  # nor is invalid percent-encoding inside it
], ids=["plain", "data-in-string", "bad-percent-in-string"])
def test_form_content_type_with_raw_json_body_is_parsed_with_warning(body):
    decoded = decode_capture(make_capture(body, FORM))
    assert decoded.value == json.loads(body)
    assert decoded.warnings == [RAW_JSON_WARNING]


def test_form_with_raw_json_keeps_trailing_text_warning():
    decoded = decode_capture(make_capture('[] <div>', SEED_FORM_CONTENT_TYPE))
    assert decoded == Decoded([], [RAW_JSON_WARNING, "trailing text after JSON: '<div>'"])


def test_invalid_raw_json_under_form_type_reports_the_json_error():
    assert rejected(make_capture('{"p": [}', FORM)) == "invalid JSON: Expecting value: line 1 column 8 (char 7)"


def test_several_data_fields_use_the_first_with_warning():
    decoded = decode_capture(make_capture("data=%5B%5D&data=%7B%7D"))
    assert decoded.value == []
    assert decoded.warnings == ["form body has 2 'data' fields; used the first"]


def test_bom_and_whitespace_are_stripped():
    decoded = decode_capture(make_capture('\ufeff \r\n {"p": []} \n', "application/json"))
    assert decoded == Decoded({"p": []}, [])


def test_long_trailing_text_is_truncated_in_the_warning():
    decoded = decode_capture(make_capture("[]" + "x" * 500, "application/json"))
    assert decoded.value == []
    [warning] = decoded.warnings
    assert warning == "trailing text after JSON: '" + "x" * 40 + "…'"


def test_base64_body_that_is_utf8_after_all_is_decoded():
    raw = base64.b64encode('{"p": [{"CITY": "Zürich"}]}'.encode()).decode()
    capture = make_capture(raw, "application/json", body_encoding="base64")
    assert decode_capture(capture).value == {"p": [{"CITY": "Zürich"}]}


@pytest.mark.parametrize("capture, reason", [
    (make_capture(""), "empty body"),
    (make_capture(" \r\n\t"), "empty body"),
    (make_capture("\ufeff", "application/json"), "empty body"),
    (make_capture('{"a": 1}', "text/plain"), "unexpected content type 'text/plain'"),
    (make_capture('{"a": 1}', "multipart/form-data; boundary=x"),
     "unexpected content type 'multipart/form-data; boundary=x'"),
    (make_capture('{"a": 1}', None), "unexpected content type: none given"),
    (make_capture('{"a": 1}', "  "), "unexpected content type: none given"),
    (make_capture("token=1&other=2"), "form body has no 'data' field (fields: 'token', 'other')"),
    (make_capture("data="), "form field 'data' is empty"),
    (make_capture('data=""'), "form field 'data' is empty"),
    (make_capture("data=%FF%FE"), "form field 'data' is not valid UTF-8 once percent-decoded: invalid start byte"),
    (make_capture("data=%7B%22a%22%3A"), "invalid JSON: Expecting value: line 1 column 6 (char 5)"),
    (make_capture("{'a': 1}", "application/json"),
     "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (make_capture("<html>", "application/json"), "invalid JSON: Expecting value: line 1 column 1 (char 0)"),
    (make_capture('{"a": NaN}', "application/json"), "invalid JSON: non-standard constant NaN"),
    (make_capture("[-Infinity]", "application/json"), "invalid JSON: non-standard constant -Infinity"),
    (make_capture("[1e999]", "application/json"), "invalid JSON: number out of range: 1e999"),
    (make_capture("[" * 100000 + "]" * 100000, "application/json"), "invalid JSON: nested too deeply"),
    (make_capture("[" * 201 + "]" * 201, "application/json"), "invalid JSON: nested deeper than 200 levels"),
    (make_capture('{"p": [{"a": ' + "[" * 198 + "]" * 198 + "}]}", "application/json"),
     "invalid JSON: nested deeper than 200 levels"),
    (make_capture(base64.b64encode(b"data=\xff\xfe{}").decode(), body_encoding="base64"),
     "body is not valid UTF-8 (byte 5)"),
    (make_capture("not base64!", body_encoding="base64"), "body_encoding is base64 but the body is not valid base64"),
    (make_capture("e30=", body_encoding="gzip"), "unknown body_encoding 'gzip'"),
    (dict(make_capture(""), body=None), "capture has no text body"),
    ("not a capture", "capture has no text body"),
], ids=[
    "empty", "whitespace", "bom-only", "text-plain", "multipart", "no-content-type", "blank-content-type",
    "missing-data", "empty-data", "empty-quoted-data", "data-not-utf8", "truncated-json", "single-quotes",
    "html", "nan", "infinity", "float-overflow", "too-deep", "deeper-than-limit", "deeper-than-limit-in-object",
    "base64-not-utf8", "bad-base64",
    "unknown-encoding", "no-body", "not-a-dict",
])
def test_rejects_with_a_clear_reason(capture, reason):
    assert rejected(capture) == reason


def test_nesting_up_to_the_limit_is_accepted():
    value = decode_capture(make_capture('{"p": [{"a": ' + "[" * 197 + "]" * 197 + "}]}", "application/json")).value
    assert len(json.dumps(value)) == len('{"p": [{"a": ') + 2 * 197 + 3


def test_decode_error_is_a_value_error():
    assert issubclass(DecodeError, ValueError)
    assert not issubclass(DecodeError, json.JSONDecodeError)
