"""tail, show and list mask the fields of DUMPER_MASK_FIELDS by default, filter on real values, and --unmask."""

import json

import pytest
from click.testing import CliRunner

from receiver.replay import samples
from scripts.view.listing import list_captures
from scripts.view.show import show
from scripts.view.tail import tail
from tests.support.capture_factory import CUSTOMER, days_ago, make_capture, smartech_body, write_captures

SHOWN_MOBILE, SHOWN_CUSTOMER = "+91•••••••997", "99••••••97"


@pytest.fixture
def capture(data_dir):
    """Write one Smartech capture of customer 9999999997 (att_params MOBILE +919999999997); return it."""
    return write_captures(data_dir, [make_capture(days_ago(0), smartech_body("SMS_CLICK"))])[0]


def run(command, data_dir, *args):
    """Run ``command`` over ``data_dir`` with the default mask list; return its output."""
    result = CliRunner(env={"DUMPER_MASK_FIELDS": None}).invoke(command, ["--data-dir", data_dir, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.mark.parametrize("command", [list_captures, tail])
def test_list_and_tail_filter_on_the_real_customer_and_show_it_masked(capture, data_dir, command):
    line = json.loads(run(command, data_dir, "--json", "--foreignkey", CUSTOMER))
    assert line["id"] == capture["id"] and line["foreignkeys"] == [SHOWN_CUSTOMER]
    assert CUSTOMER in run(command, data_dir, "--json", "--unmask")


@pytest.mark.parametrize("args", [[], ["--raw"], ["--json"], ["--raw-bytes"]])
def test_show_masks_the_payload_events_and_body_as_received(capture, data_dir, args):
    out = run(show, data_dir, capture["id"], *args)
    assert CUSTOMER not in out and samples.MOBILE not in out and "%2B919999999997" not in out
    if args != ["--raw-bytes"]:
        assert SHOWN_MOBILE in out
    unmasked = run(show, data_dir, capture["id"], "--unmask", *args)
    assert CUSTOMER in unmasked and SHOWN_MOBILE not in unmasked


def test_the_list_of_fields_is_a_setting(capture, data_dir):
    result = CliRunner(env={"DUMPER_MASK_FIELDS": "city"}).invoke(show, ["--data-dir", data_dir, capture["id"]])
    assert CUSTOMER in result.stdout and samples.MOBILE in result.stdout and "Thane" not in result.stdout
