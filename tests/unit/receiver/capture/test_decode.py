"""Decoding capture bodies: form and JSON bodies, lenient JSON, and every reject reason."""

import base64
import json
import math
import time

import pytest

from receiver.capture.decode import MAX_NUMBER_DIGITS, Decoded, DecodeError, decode_capture
from receiver.capture.jsonparse import MAX_NOTES
from tests.support.job_payloads import (
    BIG_TRANSID,
    EMAIL_API_BODY,
    FORM,
    SEED_FORM_CONTENT_TYPE,
    SEED_WEB_BODY,
    SMS_CLICK_EVENT,
    TRICKY_ATTRIBUTES,
    form_body,
    make_capture,
    panel_payload,
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


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded ",
        "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
        "  application/x-www-form-urlencoded;charset=utf-8  ",
    ],
)
def test_form_content_type_is_matched_loosely(content_type):
    assert decode_capture(make_capture("data=%5B%5D", content_type)).value == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON; charset=utf-8",
        " application/json ",
        "application/vnd.netcore+json",
    ],
)
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


@pytest.mark.parametrize(
    "body",
    [
        '  {"p": []}',
        '{"p": [], "url": "https://x.test/?a=1&data=5"}',  # a data= inside the JSON text is not a form field
        '{"p": [], "url": "https://x.test/?data=%FF"}',  # nor is invalid percent-encoding inside it
    ],
    ids=["plain", "data-in-string", "bad-percent-in-string"],
)
def test_form_content_type_with_raw_json_body_is_parsed_with_warning(body):
    decoded = decode_capture(make_capture(body, FORM))
    assert decoded.value == json.loads(body)
    assert decoded.warnings == [RAW_JSON_WARNING]


def test_form_with_raw_json_keeps_trailing_text_warning():
    decoded = decode_capture(make_capture("[] <div>", SEED_FORM_CONTENT_TYPE))
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


@pytest.mark.parametrize(
    "capture, reason",
    [
        (make_capture(""), "empty body"),
        (make_capture(" \r\n\t"), "empty body"),
        (make_capture("\ufeff", "application/json"), "empty body"),
        (make_capture('{"a": 1}', "text/plain"), "unexpected content type 'text/plain'"),
        (
            make_capture('{"a": 1}', "multipart/form-data; boundary=x"),
            "unexpected content type 'multipart/form-data; boundary=x'",
        ),
        (make_capture('{"a": 1}', None), "unexpected content type: none given"),
        (make_capture('{"a": 1}', "  "), "unexpected content type: none given"),
        (make_capture("token=1&other=2"), "form body has no 'data' field (fields: 'token', 'other')"),
        (make_capture("data="), "form field 'data' is empty"),
        (make_capture('data=""'), "form field 'data' is empty"),
        (make_capture("data=%FF%FE"), "form field 'data' is not valid UTF-8 once percent-decoded: invalid start byte"),
        (make_capture("data=%7B%22a%22%3A"), "invalid JSON: Expecting value: line 1 column 6 (char 5)"),
        (
            make_capture("{'a': 1}", "application/json"),
            "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (make_capture("<html>", "application/json"), "invalid JSON: Expecting value: line 1 column 1 (char 0)"),
        (make_capture('{"a": NaN}', "application/json"), "invalid JSON: non-standard constant NaN"),
        (make_capture("[-Infinity]", "application/json"), "invalid JSON: non-standard constant -Infinity"),
        (make_capture("[1e999]", "application/json"), "invalid JSON: number out of range: 1e999"),
        (make_capture("[" * 100000 + "]" * 100000, "application/json"), "invalid JSON: nested too deeply"),
        (make_capture("[" * 201 + "]" * 201, "application/json"), "invalid JSON: nested deeper than 200 levels"),
        (
            make_capture('{"p": [{"a": ' + "[" * 198 + "]" * 198 + "}]}", "application/json"),
            "invalid JSON: nested deeper than 200 levels",
        ),
        (
            make_capture(base64.b64encode(b"data=\xff\xfe{}").decode(), body_encoding="base64"),
            "body is not valid UTF-8 (byte 5)",
        ),
        (
            make_capture("not base64!", body_encoding="base64"),
            "body_encoding is base64 but the body is not valid base64",
        ),
        (make_capture("e30=", body_encoding="gzip"), "unknown body_encoding 'gzip'"),
        (dict(make_capture(""), body=None), "capture has no text body"),
        (make_capture("[]", ["application/json"]), "capture content_type is not text"),
        ("not a capture", "capture has no text body"),
    ],
    ids=[
        "empty",
        "whitespace",
        "bom-only",
        "text-plain",
        "multipart",
        "no-content-type",
        "blank-content-type",
        "missing-data",
        "empty-data",
        "empty-quoted-data",
        "data-not-utf8",
        "truncated-json",
        "single-quotes",
        "html",
        "nan",
        "infinity",
        "float-overflow",
        "too-deep",
        "deeper-than-limit",
        "deeper-than-limit-in-object",
        "base64-not-utf8",
        "bad-base64",
        "unknown-encoding",
        "no-body",
        "content-type-not-text",
        "not-a-dict",
    ],
)
def test_rejects_with_a_clear_reason(capture, reason):
    assert rejected(capture) == reason


def test_nesting_up_to_the_limit_is_accepted():
    value = decode_capture(make_capture('{"p": [{"a": ' + "[" * 197 + "]" * 197 + "}]}", "application/json")).value
    assert len(json.dumps(value)) == len('{"p": [{"a": ') + 2 * 197 + 3


def test_decode_error_is_a_value_error():
    assert issubclass(DecodeError, ValueError)
    assert not issubclass(DecodeError, json.JSONDecodeError)


def decoded_json(text):
    """Return ``Decoded`` for ``text`` sent as application/json."""
    return decode_capture(make_capture(text, "application/json"))


@pytest.mark.parametrize("digits", [MAX_NUMBER_DIGITS, MAX_NUMBER_DIGITS - 1], ids=["at-cap", "below"])
def test_integers_up_to_the_digit_cap_stay_exact(digits):
    number = int("7" * digits)
    assert decoded_json(f"[{number}, -{number}]").value == [number, -number]
    assert type(decoded_json(f"[{number}]").value[0]) is int


@pytest.mark.parametrize(
    "literal, digits",
    [
        ("9" * (MAX_NUMBER_DIGITS + 1), MAX_NUMBER_DIGITS + 1),
        ("-" + "9" * 5000, 5000),  # over Python's own 4,300-digit limit: a ValueError escaped before
        ("0." + "1" * 5000, 5001),
        ("1" * 60 + "." + "2" * 60 + "e5", 121),
    ],
    ids=["just-over", "5000-digits", "long-fraction", "long-float"],
)
def test_numbers_over_the_digit_cap_are_rejected(literal, digits):
    reason = rejected(make_capture(f'{{"p": [{{"n": {literal}}}]}}', "application/json"))
    assert reason == (
        f"invalid JSON: number of {digits} digits, over the limit of {MAX_NUMBER_DIGITS}: {literal[:40]}…"
    )


def test_negative_zero_keeps_its_sign_as_a_float():
    value = decoded_json("[-0, 0, -0.0, 0.0, -0e3]").value
    assert value == [0, 0, 0, 0, 0]
    assert [type(n).__name__ for n in value] == ["float", "int", "float", "float", "float"]
    assert [math.copysign(1, n) for n in value] == [-1, 1, -1, 1, -1]
    assert json.dumps(value) == "[-0.0, 0, -0.0, 0.0, -0.0]"


def test_floats_that_underflow_to_zero_are_kept_as_their_text_with_a_warning():
    decoded = decoded_json("[1e-400, -2.5E-999, 0e-400, 5e-324, 1.5]")
    assert decoded.value == ["1e-400", "-2.5E-999", 0.0, 5e-324, 1.5]
    assert decoded.warnings == [
        "number 1e-400 is too small for a float; kept as the string '1e-400'",
        "number -2.5E-999 is too small for a float; kept as the string '-2.5E-999'",
    ]


def test_a_duplicate_key_keeps_the_last_value_with_a_warning():
    decoded = decoded_json('{"p": [{"guid": "a", "x": 1, "x": 2, "guid": "b"}]}')
    assert decoded.value == {"p": [{"guid": "b", "x": 2}]}
    assert decoded.warnings == [
        "duplicate key 'x' in an object; the last value was used",
        "duplicate key 'guid' in an object; the last value was used",
    ]


def test_a_panel_sent_twice_keeps_the_events_of_both_in_order():
    decoded = decoded_json(
        '{"panel": [{"guid": "a"}], "other": [{"guid": "o"}], "panel": [{"guid": "b"}, {"guid": "c"}]}'
    )
    assert decoded.value == {"panel": [{"guid": "a"}, {"guid": "b"}, {"guid": "c"}], "other": [{"guid": "o"}]}
    assert decoded.warnings == ["duplicate panel 'panel': kept the events of all 2 of its arrays"]


def test_a_top_level_key_not_all_arrays_keeps_the_last_value():
    decoded = decoded_json('{"panel": [{"guid": "a"}], "panel": "text", "p": [], "p": [{"guid": "x"}], "p": {}}')
    assert decoded.value == {"panel": "text", "p": {}}
    assert decoded.warnings == [
        "duplicate key 'panel' in an object; the last value was used",
        "duplicate key 'p' in an object; the last value was used",
    ]


def test_an_inner_object_with_a_duplicated_panel_name_is_not_merged():
    decoded = decoded_json('{"panel": [{"list": [1], "list": [2]}]}')
    assert decoded.value == {"panel": [{"list": [2]}]}
    assert decoded.warnings == ["duplicate key 'list' in an object; the last value was used"]


def test_parser_warnings_stop_at_the_cap_with_a_count():
    keys = ", ".join(f'"k{i}": 1, "k{i}": 2' for i in range(1000))
    decoded = decoded_json(f"[{{{keys}}}] <div>")
    assert len(decoded.warnings) == MAX_NOTES + 2
    assert decoded.warnings[0] == "duplicate key 'k0' in an object; the last value was used"
    assert decoded.warnings[-2:] == [
        f"… and {1000 - MAX_NOTES} more warnings of the JSON parser",
        "trailing text after JSON: '<div>'",
    ]


def test_a_form_with_a_percent_encoded_data_name_is_still_read():
    assert decode_capture(make_capture("other=1&d%61ta=%5B%5D")).value == []


@pytest.mark.parametrize(
    "body, reason",
    [
        ("&" * 3_000_000, "form body has no 'data' field (fields: none)"),
        (
            "&".join(f"n{i}=" for i in range(400_000)),
            "form body has no 'data' field (fields: 'n0', 'n1', 'n2', 'n3', 'n4', …)",
        ),
        ("x=%41&" * 400_000, "form body has no 'data' field (fields: 'x')"),
    ],
    ids=["separators", "distinct-names", "encoded-names"],
)
def test_huge_forms_without_data_are_rejected_in_linear_time(body, reason):
    started = time.monotonic()
    assert rejected(make_capture(body)) == reason
    assert time.monotonic() - started < 3  # listing distinct names in a list took minutes
