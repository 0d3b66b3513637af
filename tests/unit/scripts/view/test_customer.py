"""``smartech-dumper customer ID``: a customer's events across three days, newest first, masked by default."""

import json

from click.testing import CliRunner

from jobs.process import run
from receiver.core.settings import load
from scripts.view.customer import customer
from tests.support.capture_factory import CUSTOMER, days_ago, make_capture, smartech_body


def test_the_timeline_lists_a_customers_events_across_three_days(env, data_dir):
    captures = [make_capture(days_ago(age), smartech_body(name)) for age, name in [(3, "SMS_CLICK"), (2, "EMAIL_OPEN")]]
    captures += [
        make_capture(days_ago(1), smartech_body("APN_VIEW")),
        make_capture(days_ago(1), smartech_body("SMS_CLICK", foreignkey="1")),
    ]
    run(load(environ=env), captures)
    runner = CliRunner(env={**env, "DUMPER_MASK_FIELDS": None})
    result = runner.invoke(customer, [CUSTOMER, "--data-dir", data_dir, "--json"])
    assert result.exit_code == 0, result.output
    *events, summary = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["capture_id"] for event in events] == [capture["id"] for capture in captures[:3]][::-1]
    assert [event["channel"] for event in events] == ["apn", "email", "sms"]
    assert summary == {"customer": "99••••••97", "events": 3, "next": None}
    table = runner.invoke(customer, [CUSTOMER, "--data-dir", data_dir, "--limit", "2"]).stdout
    assert "customer 99••••••97: 2 events" in table and "--before" in table and CUSTOMER not in table
    assert f"customer {CUSTOMER}" in runner.invoke(customer, [CUSTOMER, "--data-dir", data_dir, "--unmask"]).stdout
