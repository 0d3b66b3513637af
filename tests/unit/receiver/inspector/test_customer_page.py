"""The inspector's ``/customers/<id>``: a customer's events across days, linked from the list by a keyed hash."""

import base64
import re

from jobs.process import run
from receiver.core.settings import load
from receiver.inspector import create_app
from tests.support.capture_factory import CUSTOMER, days_ago, make_capture, smartech_body, write_captures

AUTH = {"Authorization": "Basic " + base64.b64encode(b"viewer:look").decode()}


def test_the_list_links_each_row_to_the_customers_timeline_without_naming_them(env, data_dir):
    captures = write_captures(data_dir, [make_capture(days_ago(age), smartech_body("SMS_CLICK")) for age in (3, 2, 1)])
    run(load(environ=env), captures)
    client = create_app({**env, "DUMPER_INSPECT_AUTH": "viewer:look"}).test_client()
    listing = client.get("/", headers=AUTH).get_data(as_text=True)
    links = set(re.findall(r'href="(/customers/k:[0-9a-f]{32})"', listing))
    assert len(links) == 1 and CUSTOMER not in links.pop()
    page = client.get(next(iter(set(re.findall(r'href="(/customers/k:[0-9a-f]{32})"', listing)))), headers=AUTH)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and CUSTOMER not in text and "99••••••97" not in text  # a link names no one
    assert re.findall(r'href="/captures/(\w+)"', text) == [capture["id"] for capture in captures][::-1]
    typed = client.get(f"/customers/{CUSTOMER}", headers=AUTH).get_data(as_text=True)
    assert "99••••••97" in typed and CUSTOMER not in typed and typed.count('class="channel">sms<') == 3
    api = client.get(f"/api/customers/{CUSTOMER}?size=2", headers=AUTH).get_json()
    assert len(api["events"]) == 2 and api["next"] and api["customer"] == "99••••••97"
