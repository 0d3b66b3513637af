"""The inspector masks the fields of DUMPER_MASK_FIELDS in every page and answer, unless DUMPER_INSPECT_UNMASK."""

import base64

import pytest

from receiver.inspector import create_app
from receiver.replay import samples
from tests.support.capture_factory import CUSTOMER, days_ago, make_capture, smartech_body, write_captures

AUTH = {"Authorization": "Basic " + base64.b64encode(b"viewer:look").decode()}
SECRETS = [CUSTOMER, samples.MOBILE, "%2B919999999997"]


@pytest.fixture
def capture(data_dir):
    """Write one capture of customer 9999999997; return it."""
    return write_captures(data_dir, [make_capture(days_ago(0), smartech_body("SMS_CLICK"))])[0]


def pages(env, capture_id, unmask):
    """Return every page and answer the inspector gives about one capture, as text."""
    client = create_app({**env, "DUMPER_INSPECT_AUTH": "viewer:look", "DUMPER_INSPECT_UNMASK": unmask}).test_client()
    urls = ["/", f"/?foreignkey={CUSTOMER}", "/api/captures", f"/captures/{capture_id}", f"/api/captures/{capture_id}"]
    answers = [client.get(url, headers=AUTH) for url in urls]
    raw = client.get(f"/captures/{capture_id}/raw", headers=AUTH)
    assert all(answer.status_code == 200 for answer in [*answers, raw])
    typed = [f"foreignkey={CUSTOMER}", f'value="{CUSTOMER}"', f"e.g. {CUSTOMER}"]  # the filter and its hint
    texts = [answer.get_data(as_text=True) for answer in answers]
    for text in typed:
        texts = [page.replace(text, "") for page in texts]
    return texts, raw.data


def test_every_page_shows_the_customer_masked_by_default(env, capture):
    texts, raw = pages(env, capture["id"], "false")
    for text in texts:
        assert not [secret for secret in SECRETS if secret in text]
    assert capture["id"] in texts[1]  # the filter matched the real foreignkey
    assert "+91•••••••997" in texts[3] and "curl" in texts[3]
    assert CUSTOMER.encode() not in raw and b"data=" in raw  # the download and the curl carry the masked body


def test_unmask_shows_everything_as_it_is(env, capture):
    texts, raw = pages(env, capture["id"], "true")
    assert CUSTOMER in texts[3] and samples.MOBILE in texts[4] and raw.decode() == capture["body"]
