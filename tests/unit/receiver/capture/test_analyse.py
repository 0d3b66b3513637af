"""analyse_capture: the one seam between a capture and the worker's events or reject, and the CLI's view of it."""

import json
import time

import pytest
from click.testing import CliRunner

from receiver.capture.analyse import MAX_REASON_CHARS, Analysis, Reject, analyse_capture, safe_reason
from receiver.core.jsonl import encode_line
from receiver.core.settings import DEFAULT_MAX_EVENTS, SettingsError, load
from scripts.view.listing import list_captures
from scripts.view.show import show
from scripts.view.stats import stats
from tests.support.capture_factory import days_ago, make_capture, write_captures
from tests.support.job_payloads import (
    CAPTURE_ID,
    SEED_FORM_CONTENT_TYPE,
    SEED_GUID,
    SEED_WEB_BODY,
)
from tests.support.job_payloads import (
    make_capture as job_capture,
)

JSON = "application/json"
SURROGATE_REASON = "a string holds a lone surrogate \\ud800, which UTF-8 cannot encode"


def reject_reason(body, content_type=JSON, settings=None):
    """Return the reason ``analyse_capture`` rejects ``body`` with."""
    with pytest.raises(Reject) as info:
        analyse_capture(job_capture(body, content_type), settings)
    return info.value.reason


def test_the_seed_sample_is_analysed_into_its_event():
    analysis = analyse_capture(job_capture(SEED_WEB_BODY, SEED_FORM_CONTENT_TYPE))
    assert isinstance(analysis, Analysis)
    [event] = analysis.events
    assert (event["event_id"], event["capture_id"]) == (SEED_GUID, CAPTURE_ID)
    assert analysis.value["<panel_name>"][0] is event["raw"]
    assert analysis.warnings == ["trailing text after JSON: '<div>'"]


def test_warnings_are_the_distinct_event_warnings_or_the_decode_warnings_without_events():
    analysis = analyse_capture(
        job_capture('{"p": [{"webhook_name": "SMS_NOPE"}, {"webhook_name": "SMS_NOPE"}]} x', JSON)
    )
    assert analysis.warnings == ["trailing text after JSON: 'x'", "unknown activity 'NOPE' in webhook_name 'SMS_NOPE'"]
    assert analyse_capture(job_capture("[] x", JSON)).warnings == ["trailing text after JSON: 'x'"]


@pytest.mark.parametrize(
    "body, reason",
    [
        ('{"p": [{"a": "\\ud800"}]}', f"event 0: {SURROGATE_REASON}"),
        ('{"p": [{"webhook_name": "SMS_CLICK"}, {"\\ud800": 1}]}', f"event 1: {SURROGATE_REASON}"),
        ('[{"EVENT": "sent"}, {"EVENT": ["x\\ud800"]}]', f"event 1: {SURROGATE_REASON}"),
        ('{"\\ud800": [], "p": []}', f"panel names: {SURROGATE_REASON}"),
        (
            '{"p\\udfff": [{"guid": "g"}]}',
            "event 0: a string holds a lone surrogate \\udfff, which UTF-8 cannot encode",
        ),
    ],
    ids=["value", "key", "nested-array", "empty-panel-name", "panel-name-with-event"],
)
def test_a_lone_surrogate_anywhere_is_a_reject(body, reason):
    assert reject_reason(body) == reason


def test_a_surrogate_pair_is_a_character_and_is_written():
    analysis = analyse_capture(job_capture('{"p": [{"a": "\\ud83d\\ude00"}]}', JSON))
    assert "😀".encode() in encode_line(analysis.events[0])


def test_numbers_over_the_digit_cap_are_a_reject_and_big_ids_stay_exact():
    assert reject_reason('[{"TRANSID": ' + "9" * 5000 + "}]") == (
        "invalid JSON: number of 5000 digits, over the limit of 100: " + "9" * 40 + "…"
    )
    [event] = analyse_capture(job_capture('[{"TRANSID": 9007199254740993123}]', JSON)).events
    assert b'"TRANSID":9007199254740993123' in encode_line(event)


def test_negative_zero_and_underflow_are_written_as_sent():
    analysis = analyse_capture(job_capture('{"p": [{"a": -0, "b": 1e-400, "c": 0.5}]}', JSON))
    [event] = analysis.events
    assert b'"raw":{"a":-0.0,"b":"1e-400","c":0.5}' in encode_line(event)
    assert analysis.warnings[0] == "number 1e-400 is too small for a float; kept as the string '1e-400'"


def test_a_panel_sent_twice_gives_the_events_of_both():
    analysis = analyse_capture(job_capture('{"panel": [{"guid": "a"}], "panel": [{"guid": "b"}]}', JSON))
    assert [(e["panel"], e["event_id"]) for e in analysis.events] == [("panel", "a"), ("panel", "b")]
    assert analysis.warnings[0] == "duplicate panel 'panel': kept the events of all 2 of its arrays"


def test_the_event_cap_defaults_to_the_setting_default_and_is_exact():
    assert DEFAULT_MAX_EVENTS == load(environ={}).max_events == 10000
    at_cap = "[" + ",".join(["{}"] * DEFAULT_MAX_EVENTS) + "]"
    assert len(analyse_capture(job_capture(at_cap, JSON)).events) == DEFAULT_MAX_EVENTS
    over = "[" + ",".join(["{}"] * (DEFAULT_MAX_EVENTS + 1)) + "]"
    assert reject_reason(over) == "10001 events, over DUMPER_MAX_EVENTS=10000"


def test_the_event_cap_comes_from_the_settings_and_counts_all_panels():
    settings = load(environ={"DUMPER_MAX_EVENTS": " 2 "})
    assert settings.max_events == 2
    assert reject_reason('{"p": [{}, {}], "q": [{}]}', settings=settings) == "3 events, over DUMPER_MAX_EVENTS=2"
    assert len(analyse_capture(job_capture('{"p": [{}], "q": [{}]}', JSON), settings).events) == 2


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5"])
def test_a_bad_event_cap_names_its_variable(value):
    with pytest.raises(SettingsError) as info:
        load(environ={"DUMPER_MAX_EVENTS": value})
    assert str(info.value).startswith("DUMPER_MAX_EVENTS: ")


def test_a_million_events_are_refused_quickly():
    body = "[" + ",".join(["{}"] * 1_000_000) + "]"
    started = time.monotonic()
    assert reject_reason(body) == "1000000 events, over DUMPER_MAX_EVENTS=10000"
    assert time.monotonic() - started < 5  # the job timeout is 20 s; this took about 1 s on the dev machine


@pytest.mark.slow  # a timing bound over a body of millions of containers: seconds of CPU
def test_a_maximal_body_of_tiny_containers_is_analysed_in_bounded_time():
    body = '[{"a": [' + ",".join(["{}"] * 3_300_000) + "]}]"  # 10 MB, DUMPER_MAX_BYTES' default
    started = time.monotonic()
    [event] = analyse_capture(job_capture(body, JSON)).events
    assert time.monotonic() - started < 10  # 1.2 s on the dev machine; a per-item walk took 5 s
    assert len(event["raw"]["a"]) == 3_300_000


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        ("", JSON, "empty body"),
        ('"text"', JSON, "payload is a string, expected an object of panels or an array of events"),
        ("[NaN]", JSON, "invalid JSON: non-standard constant NaN"),
        ("[" * 300 + "]" * 300, JSON, "invalid JSON: nested deeper than 200 levels"),
    ],
    ids=["decode", "normalise", "constant", "depth"],
)
def test_decode_and_normalise_errors_become_rejects(body, content_type, reason):
    assert reject_reason(body, content_type) == reason


def test_reject_is_a_value_error_with_a_safe_single_line_reason():
    assert issubclass(Reject, ValueError)
    reject = Reject("first line\nsecond\r\nthird\u2028fourth \ud800 end")
    assert reject.reason == str(reject) == "first line second third fourth \\ud800 end"
    reject.reason.encode("utf-8")
    assert safe_reason("x" * 10_000) == "x" * MAX_REASON_CHARS + "…"


def test_a_reject_reason_quoting_hostile_text_is_still_safe():
    reason = reject_reason('{"a": 1}', "text/pl\nain\ud800" + "x" * 1000)
    assert reason.startswith("unexpected content type 'text/pl\\nain\\ud800xxx")
    assert "\n" not in reason and len(reason) <= MAX_REASON_CHARS + 1
    json.dumps(reason).encode("utf-8")


def hostile_captures():
    """Return captures the worker must reject, keyed by the reason they must show."""
    when = days_ago(1)
    return [
        (make_capture(when.replace(hour=1), '{"p": [{"a": "\\ud800"}]}', JSON), f"event 0: {SURROGATE_REASON}"),
        (make_capture(when.replace(hour=2), "[" + "1" * 5000 + "]", JSON), "invalid JSON: number of 5000 digits"),
        (make_capture(when.replace(hour=3), '{"p": [{}, {}, {}, {}]}', JSON), "4 events, over DUMPER_MAX_EVENTS=3"),
    ]


def test_the_cli_lists_shows_and_counts_hostile_captures_as_rejects(data_dir):
    redos = make_capture(
        days_ago(1, hour=4), '{"p": [{"webhook_name": "a_' + " " * 300_000 + 'x", "guid": "g"}]}', JSON
    )
    records = write_captures(data_dir, [record for record, _ in hostile_captures()] + [redos])
    runner = CliRunner(env={"DUMPER_MAX_EVENTS": "3", "NO_COLOR": "1"})
    started = time.monotonic()
    listing = runner.invoke(list_captures, ["--data-dir", data_dir, "--json"])
    assert listing.exit_code == 0, listing.output
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [row["status"] for row in rows] == ["rejected", "rejected", "rejected", "warnings"]
    for row, (_, reason) in zip(rows, hostile_captures()):
        assert row["reason"].startswith(reason)
    assert rows[3]["events"] == 1
    table = runner.invoke(list_captures, ["--data-dir", data_dir])
    assert table.exit_code == 0 and table.stdout.count("rejected: ") == 3
    assert f"rejected: event 0: {SURROGATE_REASON}" in table.stdout
    shown = runner.invoke(show, ["--data-dir", data_dir, records[0]["id"]])
    assert shown.exit_code == 0 and SURROGATE_REASON in shown.stdout
    counted = runner.invoke(stats, ["--data-dir", data_dir, "--json"])
    assert counted.exit_code == 0, counted.output
    reasons = [json.loads(line) for line in counted.stdout.splitlines()]
    assert sum(1 for row in reasons if row.get("table") == "reject_reason") == 3
    assert time.monotonic() - started < 10  # the ReDoS name alone took minutes before
