"""The sample payloads reproduce the vendor's documented wire format."""

import copy
import json
from urllib.parse import parse_qs

import pytest

from receiver.replay import samples

DOCUMENTED_ACTIVITIES = {
    "EMAIL_OPEN",
    "EMAIL_CLICK",
    "EMAIL_BOUNCE",
    "SMS_DELIVERED",
    "SMS_CLICK",
    "BPN_VIEW",
    "BPN_CLICK",
    "APN_VIEW",
    "APN_CLICK",
}
# The vendor's encoded channel samples, up to where the page truncates them.
VENDOR_PREFIX = (
    "data=%7B%22panelname%22%3A%5B%7B%22webhook_name%22%3A%22{name}%22%2C%22event_params%22%3A"
    "%7B%22foreignkey%22%3A%229999999997%22%2C%22linkid%22%3A-1%7D%2C%22custom_params%22%3A%7B"
    "%22automationid%22%3A%22169%22%2C%22link%22%3A%22http%3A%2F%2Fwww.some_link.com%22%2C"
    "%22channel%22%3A%22{channel}%22%2C%22leadscore%22%3A%22s2%22%7D%2C%22att_params%22%3A%7B"
    "%22MBR_DOBIRTH%22%3A%2223-12-88%22%2C%22AGE_BUCKET_APR17"
)


def decode(body):
    """Return the single ``data`` field of a form body, decoded as a form parser would."""
    fields = parse_qs(body.decode("ascii"), strict_parsing=True, keep_blank_values=True)
    assert list(fields) == ["data"]
    assert len(fields["data"]) == 1
    return fields["data"][0]


def all_events():
    """Return every sample event, channel and web."""
    return list(samples.CHANNEL_EVENTS) + [samples.WEB_ACTIVITY_EVENT]


def test_every_documented_activity_and_the_web_activity_is_a_sample():
    labels = [label for label, _ in samples.sample_bodies()]

    assert set(labels) == DOCUMENTED_ACTIVITIES | {"custom_activity"}
    assert len(labels) == len(set(labels))


def test_only_the_web_activity_has_a_guid_as_on_the_vendor_page():
    guids = [event["event_params"].get("guid") for event in all_events()]

    assert len(guids) == len(DOCUMENTED_ACTIVITIES) + 1
    assert [guid for guid in guids if guid is not None] == [samples.WEB_ACTIVITY_GUID]


def test_sample_bodies_are_stable_between_calls():
    assert samples.sample_bodies() == samples.sample_bodies()


@pytest.mark.parametrize("event", samples.CHANNEL_EVENTS, ids=lambda e: e["webhook_name"])
def test_channel_body_decodes_to_its_event(event):
    label, body = next(item for item in samples.sample_bodies() if item[0] == event["webhook_name"])

    assert json.loads(decode(body)) == {samples.PANEL: [event]}


@pytest.mark.parametrize("name,channel", [("SMS_CLICK", "sms"), ("APN_CLICK", "apn"), ("BPN_CLICK", "bpn")])
def test_channel_encoding_matches_the_vendor_sample(name, channel):
    event = copy.deepcopy(next(e for e in samples.CHANNEL_EVENTS if e["webhook_name"] == name))

    body = samples.encode_body(samples.payload([event], panel="panelname"))

    assert body.decode("ascii").startswith(VENDOR_PREFIX.format(name=name, channel=channel))


def test_tricky_values_survive_the_form_encoding():
    texts = [decode(body) for label, body in samples.sample_bodies() if label != "custom_activity"]
    joined = "".join(texts)
    raw = b"".join(body for _, body in samples.sample_bodies())

    for value in ("Thane&Kalyan", "Zürich", "मुंबई", "+919999999997", "25 To <30_Yr"):
        assert value in joined, value
    assert b"Thane%26Kalyan" in raw
    assert b"%2B919999999997" in raw
    assert "Zürich".encode() not in raw  # percent-encoded, never raw UTF-8
    assert raw.isascii()


def test_web_activity_body_is_the_vendor_string_with_html_after_the_json():
    label, body = samples.sample_bodies()[-1]

    assert label == "custom_activity"
    assert body.endswith(b"%3Cdiv%3E")
    assert b"Test%20Webhook%20URL%20for%20Automation" in body
    text = decode(body)
    document, end = json.JSONDecoder().raw_decode(text)
    assert text[end:] == "<div>"
    assert document == {"<panel_name>": [samples.WEB_ACTIVITY_EVENT]}
    assert document["<panel_name>"][0]["att_params"]["CITY"] == "Thane&Kalyan"
