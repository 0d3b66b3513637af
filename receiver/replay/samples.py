"""The vendor's documented Smartech webhook samples, as data and as wire bodies.

Every channel activity of the vendor's table (Email open/click/bounce, SMS
delivered/click, BPN view/click, APN view/click) is one event, shaped like the
documented click samples: the page shows only clicks, so the other activities
reuse the same ``event_params`` / ``custom_params`` / ``att_params`` shape.

Each event carries a fixed ``event_params.guid``, distinct per event, so the
bodies are the same on every run and a test (or an operator) can compare what
arrived byte for byte. Sending them twice therefore sends the same guids twice,
exactly as a Smartech retry would.

Channel bodies are encoded the way Smartech sends them: a form with a single
field ``data`` holding compact JSON (as in the vendor's encoded samples), UTF-8,
percent-encoded with ``urlencode`` (so spaces become ``+`` and ``+`` becomes
``%2B``). Channel names are lower-case, as in the vendor's encoded samples.
The web-activity body is the vendor's encoded string copied verbatim,
including the stray ``<div>`` after the JSON and its ``%20`` spaces.

Failure policy: constant data and pure functions; nothing here reads, writes
or raises for the samples it defines.
"""

import copy
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

PANEL = "smartech_panel"
FORM_FIELD = "data"
CONTENT_TYPE = "application/x-www-form-urlencoded"
# The vendor's encoded samples are compact JSON: no space after ',' or ':'.
JSON_SEPARATORS = (",", ":")
FOREIGN_KEY = "9999999997"
AUTOMATION_ID = "169"
SAMPLE_LINK = "http://www.some_link.com"
LEAD_SCORE = "s2"
WEB_ACTIVITY_LABEL = "custom_activity"
WEB_ACTIVITY_GUID = "2a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8"

# The channel events of the vendor page, Email, SMS, BPN, APN. Like Smartech's, they carry no guid and no
# time: sent twice, a sample is two events (docs/formats.md, event_id); only the web activity has a guid.
CHANNEL_WEBHOOKS = (
    "EMAIL_OPEN",
    "EMAIL_CLICK",
    "EMAIL_BOUNCE",
    "SMS_DELIVERED",
    "SMS_CLICK",
    "BPN_VIEW",
    "BPN_CLICK",
    "APN_VIEW",
    "APN_CLICK",
)

# The vendor's attributes, plus values that stress the encoding: '&', '+', non-ASCII.
BASE_ATTRIBUTES = {
    "MBR_DOBIRTH": "23-12-88",
    "AGE_BUCKET_APR17": "25 To <30_Yr",
    "MARIAL_STATUS": "S",
    "CAMPAINGENAME": "CP Oct",
}
CITIES = {
    "email": "Zürich",
    "sms": "मुंबई",
    "bpn": "Thane&Kalyan",
    "apn": "Zürich & मुंबई",
}
MOBILE = "+919999999997"

# The vendor's web-activity body, verbatim: JSON, then an HTML fragment.
WEB_ACTIVITY_BODY = (
    "data=%7B%22%3Cpanel_name%3E%22%3A%5B%7B%22channel%22%3A%22custom_activity%22%2C%22custom_params"
    "%22%3A%7B%7D%2C%22att_params%22%3A%7B%22CITY%22%3A%22Thane%26Kalyan%22%2C%22STATE%22%3A%22"
    "Maharashtra11%22%7D%2C%22msgid%22%3A%22103%22%2C%22webhook_name%22%3A%22Test%20Webhook%20URL"
    "%20for%20Automation%22%2C%22payload_params%22%3A%7B%22items%22%3A%5B%7B%22dateofpurchase_sm%22"
    "%3A%222018-12-06%2017%3A11%3A30%22%2C%22category_s%22%3A%22lifestyle%22%2C%22prqt_s%22%3A1%2C"
    "%22prid_s%22%3A157%2C%22name_s%22%3A%22sarvesh12345%22%2C%22bydemand_s%22%3A%22sarvesh%22%2C"
    "%22price_s%22%3A9990.91%7D%2C%7B%22dateofpurchase_sm%22%3A%222018-12-06%2017%3A11%3A30%22%2C"
    "%22category_s%22%3A%22lifestyle%22%2C%22prqt_s%22%3A2%2C%22prid_s%22%3A157%2C%22name_s%22%3A"
    "%22sarvesh%22%2C%22bydemand_s%22%3A%22sarvesh%22%2C%22price_s%22%3A9990.91%7D%5D%7D%2C"
    "%22event_params%22%3A%7B%22activity_source%22%3A%22web%22%2C%22ts%22%3A181212120708%2C"
    "%22activity_id%22%3A103%2C%22foreignkey%22%3A%22%3Cforeignkey%3E%22%2C%22identity%22%3A"
    "%22%3Cidentity%3E%22%2C%22asset_name%22%3A%22%3Cname_of_asset_from_smartech%3E%22%2C"
    "%22asset_id%22%3A%22b001207f68c6e40519b5b2c7fb055930%22%2C%22guid%22%3A"
    "%222a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8%22%7D%2C%22journey_name%22%3A"
    "%22act%20on%20webhook%20trigger%20test1%22%7D%5D%7D%3Cdiv%3E"
).encode("ascii")

# The same web-activity event as data (what the JSON part of the body decodes to).
WEB_ACTIVITY_EVENT = {
    "channel": "custom_activity",
    "custom_params": {},
    "att_params": {"CITY": "Thane&Kalyan", "STATE": "Maharashtra11"},
    "msgid": "103",
    "webhook_name": "Test Webhook URL for Automation",
    "payload_params": {
        "items": [
            {
                "dateofpurchase_sm": "2018-12-06 17:11:30",
                "category_s": "lifestyle",
                "prqt_s": 1,
                "prid_s": 157,
                "name_s": "sarvesh12345",
                "bydemand_s": "sarvesh",
                "price_s": 9990.91,
            },
            {
                "dateofpurchase_sm": "2018-12-06 17:11:30",
                "category_s": "lifestyle",
                "prqt_s": 2,
                "prid_s": 157,
                "name_s": "sarvesh",
                "bydemand_s": "sarvesh",
                "price_s": 9990.91,
            },
        ]
    },
    "event_params": {
        "activity_source": "web",
        "ts": 181212120708,
        "activity_id": 103,
        "foreignkey": "<foreignkey>",
        "identity": "<identity>",
        "asset_name": "<name_of_asset_from_smartech>",
        "asset_id": "b001207f68c6e40519b5b2c7fb055930",
        "guid": WEB_ACTIVITY_GUID,
    },
    "journey_name": "act on webhook trigger test1",
}


def channel_event(webhook_name: str) -> dict[str, Any]:
    """Return the channel-activity event named ``webhook_name`` (e.g. ``SMS_CLICK``)."""
    channel = webhook_name.split("_", 1)[0].lower()
    attributes = dict(BASE_ATTRIBUTES, CITY=CITIES[channel], MOBILE=MOBILE)
    return {
        "webhook_name": webhook_name,
        "event_params": {"foreignkey": FOREIGN_KEY, "linkid": -1},
        "custom_params": {
            "automationid": AUTOMATION_ID,
            "link": SAMPLE_LINK,
            "channel": channel,
            "leadscore": LEAD_SCORE,
        },
        "att_params": attributes,
    }


CHANNEL_EVENTS = tuple(channel_event(webhook_name) for webhook_name in CHANNEL_WEBHOOKS)


def payload(events: Iterable[dict[str, Any]], panel: str = PANEL) -> dict[str, list[dict[str, Any]]]:
    """Return the JSON document Smartech sends: ``{panel: [event, ...]}``."""
    return {panel: [copy.deepcopy(event) for event in events]}


def encode_body(document: Any) -> bytes:
    """Encode ``document`` as Smartech does: field ``data`` = compact JSON, percent-encoded."""
    text = json.dumps(document, ensure_ascii=False, separators=JSON_SEPARATORS)
    return urlencode({FORM_FIELD: text}).encode("ascii")


def sample_bodies() -> list[tuple[str, bytes]]:
    """Return ``(label, body_bytes)`` for every sample, one event per body, channels first."""
    bodies = [(event["webhook_name"], encode_body(payload([event]))) for event in CHANNEL_EVENTS]
    bodies.append((WEB_ACTIVITY_LABEL, WEB_ACTIVITY_BODY))
    return bodies
