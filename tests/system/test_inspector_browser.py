"""The web inspector in a real browser (Debian's chromium through Playwright) against real processes.

A real ``smartech-dumper serve`` takes the posts and a real ``smartech-dumper
inspect`` (gunicorn) serves the pages. Set ``DUMPER_SCREENSHOTS=DIR`` to save
the screenshots the README shows (``docs/`` to refresh them).
"""

import json
import os
import subprocess
from urllib.parse import urlencode

import pytest
import requests

from receiver.procs.stack import free_port
from receiver.replay import samples
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Inspector, ensure_chromium
from tests.support.capture_factory import FORM, days_ago, make_capture, smartech_body, write_captures
from tests.support.helpers import PASSWORD, USER
from tests.support.hostile import HTML, HTML_VALUE, html_captures, html_payload, write_day
from tests.support.procs import BIN, Web, run_burst_worker

pytestmark = pytest.mark.slow
VIEWER, SECRET = "viewer", "look-but-do-not-touch"
CUSTOMER = samples.FOREIGN_KEY
WAIT_MS = 20_000
# Defined before any page script runs: a payload that ever ran would call it.
HOOK = "window.__calls = []; window.__pwned = (what) => window.__calls.push(String(what));"


@pytest.fixture(scope="module")
def browser():
    """Launch one headless chromium for the module (installing the package first when it is missing)."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def run_stack(env, unmask):
    """Run a receiver (serve, with its forwarder) and the inspector over one data dir; yield both."""
    shared = {**os.environ, **env, "DUMPER_FORWARDER": "true", "DUMPER_INSPECT_AUTH": f"{VIEWER}:{SECRET}"}
    shared["DUMPER_INSPECT_UNMASK"] = unmask
    web = Web(shared)
    inspector = Inspector({**shared, "DUMPER_INSPECT_RECEIVER_URL": web.url}, free_port())
    yield web, inspector, shared
    inspector.stop()
    web.stop()


@pytest.fixture
def stack(env):
    """The receiver and an inspector that unmasks: these tests read the customer's values on the pages."""
    yield from run_stack(env, "true")


@pytest.fixture
def masked_stack(env):
    """The receiver and an inspector as configured by default: masked."""
    yield from run_stack(env, "false")


def new_page(browser, javascript=True):
    """Return a page of a fresh context that logs in to the inspector and records any payload that runs."""
    context = browser.new_context(
        http_credentials={"username": VIEWER, "password": SECRET},
        java_script_enabled=javascript,
        viewport={"width": 1400, "height": 900},
    )
    context.add_init_script(HOOK)
    return context.new_page()


def screenshot(page, name):
    """Save a full-page screenshot under $DUMPER_SCREENSHOTS, when it is set."""
    folder = os.environ.get("DUMPER_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def post(web, body, content_type=FORM, path="/webhook/"):
    """POST ``body`` to the receiver with its credentials; return the capture id."""
    answer = requests.post(
        web.url + path, data=body, headers={"Content-Type": content_type}, auth=(USER, PASSWORD), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def test_a_capture_appears_live_opens_and_shows_what_smartech_sent(browser, stack):
    web, inspector, env = stack
    sent = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "send", web.url + "/webhook/", "--user", USER, "--password", PASSWORD],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    page = new_page(browser)
    page.goto(inspector.url + "/")
    page.evaluate("window.__stayed = true")  # gone if the page were reloaded
    capture_id = post(web, smartech_body("SMS_CLICK", foreignkey=CUSTOMER))
    row = page.wait_for_selector(f'tr[data-id="{capture_id}"]', timeout=WAIT_MS)
    assert page.evaluate("window.__stayed") is True
    assert "SMS_CLICK" in row.inner_text() and CUSTOMER in row.inner_text() and "ok" in row.inner_text()
    run_burst_worker(env)  # so the detail page says where it went: processed
    page.fill('input[name="foreignkey"]', CUSTOMER)
    page.click('button[type="submit"]')
    page.wait_for_selector(f'tr[data-id="{capture_id}"]', timeout=WAIT_MS)
    assert f"foreignkey={CUSTOMER}" in page.url
    assert all(CUSTOMER in text for text in page.locator("#captures tr td:nth-child(5)").all_inner_texts())
    screenshot(page, "inspector-list.png")
    page.click(f'a[href="/captures/{capture_id}"]')
    page.wait_for_selector("#payload-json")
    assert page.inner_text("#field-id") == capture_id and page.inner_text("#field-status") == "ok"
    assert (
        page.inner_text("td.event-foreignkey") == CUSTOMER and page.inner_text("td.event-webhook_name") == "SMS_CLICK"
    )
    assert page.inner_text("#where-state") == "processed"
    assert json.loads(page.inner_text("#payload-json"))["smartech_panel"][0]["event_params"]["foreignkey"] == CUSTOMER
    assert page.inner_text("#raw-body").startswith("data=")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click('button[data-copy="curl-command"]')
    page.wait_for_selector(".copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.inner_text("#curl-command")
    screenshot(page, "inspector-detail.png")
    assert page.evaluate("window.__calls") == []


def test_the_pages_show_the_customer_masked_by_default(browser, masked_stack):
    web, inspector, env = masked_stack
    page = new_page(browser)
    page.goto(inspector.url + "/")
    capture_id = post(web, smartech_body("SMS_CLICK", foreignkey=CUSTOMER))
    row = page.wait_for_selector(f'tr[data-id="{capture_id}"]', timeout=WAIT_MS)  # a live row, masked too
    assert "99••••••97" in row.inner_text() and CUSTOMER not in row.inner_text()
    page.fill('input[name="foreignkey"]', CUSTOMER)  # the filter matches the real value
    page.click('button[type="submit"]')
    row = page.wait_for_selector(f'tr[data-id="{capture_id}"]', timeout=WAIT_MS)
    assert "99••••••97" in row.inner_text() and CUSTOMER not in page.inner_text("#captures")
    page.click(f'a[href="/captures/{capture_id}"]')
    page.wait_for_selector("#payload-json")
    shown = page.inner_text("main")
    assert page.inner_text("td.event-foreignkey") == "99••••••97" and "+91•••••••997" in shown
    assert CUSTOMER not in shown and samples.MOBILE not in shown and "%2B919999999997" not in shown
    assert "+91•••••••997" in page.inner_text("#payload-json") and "%E2%80%A2" in page.inner_text("#raw-body")
    run_burst_worker(env)  # its first event makes the privacy key: the rows link to their customer's timeline
    page.goto(inspector.url + "/")
    page.click(f'tr[data-id="{capture_id}"] td.customer a')
    page.wait_for_selector("#timeline")
    assert "/customers/k:" in page.url and CUSTOMER not in page.url and CUSTOMER not in page.inner_text("main")
    assert page.inner_text("#timeline td.channel") == "sms" and page.inner_text("#timeline td.id") == capture_id
    assert page.evaluate("window.__calls") == []


def test_hostile_payloads_are_shown_and_never_run(browser, stack, data_dir):
    web, inspector, _ = stack
    stored = write_day(data_dir, html_captures(days_ago(0, hour=0)))
    page = new_page(browser)
    answer = page.goto(inspector.url + "/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["referrer-policy"] == "no-referrer"
    live = post(web, samples.encode_body(html_payload()), content_type=f"{FORM}; x={HTML}")
    page.wait_for_selector(f'tr[data-id="{live}"]', timeout=WAIT_MS)  # added by the page's script
    assert "<script>window.__pwned" in page.inner_text(f'tr[data-id="{live}"]')
    for capture_id in [live] + [record["id"] for record in stored]:
        answer = page.goto(f"{inspector.url}/captures/{capture_id}")
        assert answer.status == 200 and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "<script>window.__pwned" in page.inner_text("main")
        assert page.locator("main img, main b, main script").count() == 0
    page.goto(inspector.url + "/?" + urlencode({"foreignkey": HTML_VALUE}))
    page.goto(inspector.url + "/api/captures")
    assert page.evaluate("window.__calls") == []


def test_the_list_and_the_detail_work_without_javascript(browser, stack, data_dir):
    _, inspector, _ = stack
    records = write_captures(
        data_dir,
        [make_capture(days_ago(1, hour=h), smartech_body("EMAIL_OPEN", foreignkey=str(h))) for h in range(12)],
    )
    page = new_page(browser, javascript=False)
    page.goto(inspector.url + "/?limit=5")
    shown = page.locator("#captures tr").evaluate_all("rows => rows.map(row => row.dataset.id)")
    assert shown == [record["id"] for record in reversed(records)][:5]
    page.click('a[rel="next"]')
    assert page.locator("#captures tr").first.get_attribute("data-id") == records[-6]["id"]
    page.fill('input[name="foreignkey"]', "7")
    page.click('button[type="submit"]')
    assert page.locator("#captures tr").evaluate_all("rows => rows.map(row => row.dataset.id)") == [records[7]["id"]]
    assert page.is_hidden("#live-status")
    page.click(f'a[href="/captures/{records[7]["id"]}"]')
    assert page.inner_text("td.event-foreignkey") == "7" and page.inner_text("td.event-webhook_name") == "EMAIL_OPEN"
    assert page.is_hidden('button[data-copy="curl-command"]')  # the copy buttons need the script
    assert page.inner_text("#curl-command").startswith("printf %s '")
