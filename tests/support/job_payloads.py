"""Payloads shared by the jobs tests, copied from the vendor page and built like Smartech does; one queued as sent."""

import json
from urllib.parse import quote_plus, urlencode

from receiver.core.queues import connect, jobs_of
from receiver.core.settings import load
from receiver.forwarder.loop import Forwarder
from receiver.web import create_app
from tests.support.helpers import basic

FORM = "application/x-www-form-urlencoded"
# The content type exactly as the vendor's web-activity cURL sample sends it (trailing space).
SEED_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded "
RECEIVED_AT = "2020-01-02T23:59:59.999Z"
RECEIVED_DAY = "2020-01-02"
CAPTURE_ID = "01E0ZZZZZZZZZZZZZZZZZZZZZZ"

# The web-activity body copied verbatim from the vendor page, ending in %3Cdiv%3E after the JSON.
SEED_WEB_BODY = (
    'data="%7B%22%3Cpanel_name%3E%22%3A%5B%7B%22channel%22%3A%22custom_activity%22%2C%22custom_params%22%'
    "3A%7B%7D%2C%22att_params%22%3A%7B%22CITY%22%3A%22Thane%26Kalyan%22%2C%22STATE%22%3A%22Maharashtra11%"
    "22%7D%2C%22msgid%22%3A%22103%22%2C%22webhook_name%22%3A%22Test%20Webhook%20URL%20for%20Automation%22"
    "%2C%22payload_params%22%3A%7B%22items%22%3A%5B%7B%22dateofpurchase_sm%22%3A%222018-12-06%2017%3A11%3"
    "A30%22%2C%22category_s%22%3A%22lifestyle%22%2C%22prqt_s%22%3A1%2C%22prid_s%22%3A157%2C%22name_s%22%3"
    "A%22sarvesh12345%22%2C%22bydemand_s%22%3A%22sarvesh%22%2C%22price_s%22%3A9990.91%7D%2C%7B%22dateofpu"
    "rchase_sm%22%3A%222018-12-06%2017%3A11%3A30%22%2C%22category_s%22%3A%22lifestyle%22%2C%22prqt_s%22%3"
    "A2%2C%22prid_s%22%3A157%2C%22name_s%22%3A%22sarvesh%22%2C%22bydemand_s%22%3A%22sarvesh%22%2C%22price"
    "_s%22%3A9990.91%7D%5D%7D%2C%22event_params%22%3A%7B%22activity_source%22%3A%22web%22%2C%22ts%22%3A18"
    "1212120708%2C%22activity_id%22%3A103%2C%22foreignkey%22%3A%22%3Cforeignkey%3E%22%2C%22identity%22%3A"
    "%22%3Cidentity%3E%22%2C%22asset_name%22%3A%22%3Cname_of_asset_from_smartech%3E%22%2C%22asset_id%22%3"
    "A%22b001207f68c6e40519b5b2c7fb055930%22%2C%22guid%22%3A%222a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8%22%7D"
    '%2C%22journey_name%22%3A%22act%20on%20webhook%20trigger%20test1%22%7D%5D%7D%3Cdiv%3E"'
)
SEED_GUID = "2a867f6d-cb7f-4fb7-8da4-02a5d5dd1bd8"

# The SMS_CLICK sample of the vendor page, without its comments and trailing commas.
SMS_CLICK_EVENT = {
    "webhook_name": "SMS_CLICK",
    "event_params": {"foreignkey": "9999999997", "linkid": -1},
    "custom_params": {"automationid": "169", "link": "http://www.some_link.com", "channel": "sms", "leadscore": "s2"},
    "att_params": {
        "MBR_DOBIRTH": "23-12-88",
        "AGE_BUCKET_APR17": "25 To <30_Yr",
        "MARIAL_STATUS": "S",
        "CAMPAINGENAME": "CP Oct",
    },
}

BIG_TRANSID = 9007199254740993123  # > 2**53: a float would turn it into 9007199254740993024
EMAIL_API_BODY = '[{"TRANSID": 9007199254740993123, "EMAIL":"a@b.c","EVENT":"opened","TIMESTAMP":1700000000}]'

# Values that a form encoder must carry: & (as %26), + (as %2B), spaces (as +), non-ASCII.
TRICKY_ATTRIBUTES = {"CITY": "Thane&Kalyan", "TOWN": "Zürich", "METRO": "मुंबई", "PLUS": "a+b", "NAME": "Ann Lee"}


def panel_payload(*events, panel="panel1"):
    """Return a Smartech payload with ``events`` in one panel."""
    return {panel: list(events)}


def form_body(payload, quoted=False, extra=()):
    """Encode ``payload`` as Smartech does: a form whose ``data`` field is the JSON text."""
    text = json.dumps(payload, ensure_ascii=False)
    if quoted:
        # data="%7B...%7D": literal quotes around the percent-encoded JSON, as in the vendor's cURL lines.
        return "&".join([*(urlencode([pair]) for pair in extra), 'data="' + quote_plus(text) + '"'])
    return urlencode([*extra, ("data", text)])


def make_capture(body, content_type=FORM, **fields):
    """Return a capture record as the receiver writes it."""
    capture = {
        "id": CAPTURE_ID,
        "received_at": RECEIVED_AT,
        "source": "default",
        "remote_addr": "203.0.113.7",
        "method": "POST",
        "path": "/",
        "content_type": content_type,
        "user": "smartech",
        "body": body,
        "size": len(body.encode("utf-8")),
    }
    capture.update(fields)
    return capture


# One SMS_CLICK whose event id is held-1: the capture the worker tests queue, hold, kill and recover.
HELD_BODY = "data=%7B%22p%22%3A%5B%7B%22webhook_name%22%3A%22SMS_CLICK%22%2C%22guid%22%3A%22held-1%22%7D%5D%7D"


def capture_and_queue(env):
    """Capture one payload through the app and hand it to the queue; return the id of the job that holds it."""
    client = create_app(env).test_client()
    answer = client.post(
        "/webhook", data=HELD_BODY, content_type="application/x-www-form-urlencoded", headers={"Authorization": basic()}
    )
    settings = load(overrides=env)
    Forwarder(settings).drain()
    return jobs_of(connect(settings), settings.queue, [answer.get_json()["id"]])[0]
