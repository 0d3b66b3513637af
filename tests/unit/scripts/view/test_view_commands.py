"""tail, show, list and stats over real capture files (plain and gzipped), through click."""

import json
import os
import re

import pytest
from click.testing import CliRunner

from receiver.replay import samples
from scripts.view.listing import list_captures
from scripts.view.show import show
from scripts.view.stats import stats
from scripts.view.tail import tail
from tests.support.capture_factory import (
    body_bytes,
    days_ago,
    make_capture,
    smartech_body,
    utc,
    write_captures,
    write_gz,
)

ANSI = re.compile(r"\x1b\[")
EMAIL_API_BODY = (
    '[{"TRANSID": 9007199254740993123, "EMAIL": "a@b.example", "EVENT": "opened", "TIMESTAMP": 1700000000}]'
)


def two_events_body():
    """Return a body with an SMS delivery and an e-mail click for customer 9999999997."""
    delivered, clicked = samples.channel_event("SMS_DELIVERED"), samples.channel_event("EMAIL_CLICK")
    return samples.encode_body(samples.payload([delivered, clicked]))


@pytest.fixture
def dataset(data_dir):
    """Write two days of captures: the older day gzipped, yesterday plain."""
    older, yesterday = days_ago(2), days_ago(1, hour=0)
    old = [
        make_capture(older, smartech_body("SMS_CLICK")),
        make_capture(older.replace(hour=13), smartech_body("EMAIL_OPEN", foreignkey="111"), source="crm"),
    ]
    write_gz(data_dir, "captures", older.strftime("%Y-%m-%d"), old)
    at = {
        name: yesterday.replace(hour=hour)
        for name, hour in [("sms", 9), ("apn", 10), ("bad", 11), ("web", 12), ("two", 13), ("api", 14)]
    }
    new = write_captures(
        data_dir,
        [
            make_capture(at["sms"], smartech_body("SMS_CLICK")),
            make_capture(at["apn"], smartech_body("APN_VIEW", foreignkey="222"), source="crm"),
            make_capture(at["bad"], "data=%7B%22p%22%3A%5B"),
            make_capture(at["web"], samples.WEB_ACTIVITY_BODY),
            make_capture(at["two"], two_events_body()),
            make_capture(at["api"], EMAIL_API_BODY, content_type="application/json"),
        ],
    )
    return {"old": old, "new": new, "yesterday": yesterday.strftime("%Y-%m-%d"), "older": older.strftime("%Y-%m-%d")}


def invoke(command, data_dir, *args, env=None):
    """Run ``command`` with ``--data-dir``, nothing masked (test_masking.py masks), and return the result."""
    return CliRunner(env={"DUMPER_MASK_FIELDS": "none", **(env or {})}).invoke(command, ["--data-dir", data_dir, *args])


def listed(result):
    """Return the ids of a --json listing."""
    assert result.exit_code == 0, result.output
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


def ids(records, *indexes):
    """Return the ids of ``records`` at ``indexes``."""
    return [records[i]["id"] for i in indexes]


def test_list_shows_every_capture_oldest_first_with_gzipped_days(dataset, data_dir):
    result = invoke(list_captures, data_dir)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["RECEIVED", "(UTC)", "ID"]
    assert [line.split()[2] for line in lines[1:]] == ids(dataset["old"], 0, 1) + ids(dataset["new"], *range(6))
    assert "SMS_CLICK" in lines[1] and "smartech_panel" in lines[1] and lines[1].rstrip().endswith("ok")
    assert "rejected: invalid JSON" in lines[5]
    assert "warning: trailing text after JSON: '<div>'" in lines[6]
    assert "SMS_DELIVERED,EMAIL_CLICK" in lines[7] and re.search(r"\s2\s", lines[7])
    assert not ANSI.search(result.output)


def test_list_json_fields(dataset, data_dir):
    result = invoke(list_captures, data_dir, "--json", "--source", "crm")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == ids(dataset["old"], 1) + ids(dataset["new"], 1)
    assert rows[1]["webhook_names"] == ["APN_VIEW"] and rows[1]["channels"] == ["apn"]
    assert rows[1]["activities"] == ["view"] and rows[1]["foreignkeys"] == ["222"]
    assert rows[1]["status"] == "ok" and rows[1]["events"] == 1 and rows[1]["source"] == "crm"
    assert rows[1]["size"] == dataset["new"][1]["size"] == len(body_bytes(dataset["new"][1]))


def test_list_window_yesterday(dataset, data_dir):
    assert listed(invoke(list_captures, data_dir, "--json", "--since", "yesterday", "--until", "today")) == ids(
        dataset["new"], *range(6)
    )
    day = dataset["yesterday"]
    assert listed(
        invoke(list_captures, data_dir, "--json", "--since", f"{day}T10:00", "--until", f"{day}T12:00")
    ) == ids(dataset["new"], 1, 2)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--webhook-name", "sms_click"], [("old", 0), ("new", 0)]),
        (["--channel", "apn", "--channel", "email"], [("old", 1), ("new", 1), ("new", 4), ("new", 5)]),
        (["--activity", "open"], [("old", 1), ("new", 5)]),
        (["--foreignkey", "9999999997"], [("old", 0), ("new", 0), ("new", 4)]),
        (["--foreignkey", "a@b.example"], [("new", 5)]),
        (["--foreignkey", "9999999997", "--since", "yesterday"], [("new", 0), ("new", 4)]),
        (["--channel", "sms", "--activity", "delivered"], [("new", 4)]),
        (["--channel", "sms", "--activity", "open"], []),  # both must hold for one and the same event
        (["--rejects-only"], [("new", 2)]),
        (["--limit", "3"], [("old", 0), ("old", 1), ("new", 0)]),
        (["--source", "default", "--limit", "1", "--since", "yesterday"], [("new", 0)]),
    ],
)
def test_list_filters(dataset, data_dir, args, expected):
    assert listed(invoke(list_captures, data_dir, "--json", *args)) == [dataset[k][i]["id"] for k, i in expected]


def test_list_says_when_nothing_matches(dataset, data_dir):
    result = invoke(list_captures, data_dir, "--webhook-name", "NOPE")
    assert result.exit_code == 0 and result.stdout == "" and "no captures match" in result.stderr


def test_a_window_skips_whole_files_and_an_unreadable_file_is_one_error(dataset, data_dir):
    with open(os.path.join(data_dir, "captures", "2020-01-01.jsonl.gz"), "wb") as handle:
        handle.write(b"this is not gzip\n")
    assert len(listed(invoke(list_captures, data_dir, "--json", "--since", "2020-01-02"))) == 8
    result = invoke(list_captures, data_dir)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot read {data_dir}/captures/2020-01-01.jsonl.gz after line 0: Not a gzipped file (b'th')"
    ]


def test_a_directory_in_place_of_a_file_is_one_error(data_dir):
    os.makedirs(os.path.join(data_dir, "captures", "2020-01-01.jsonl"))
    result = invoke(list_captures, data_dir)
    assert result.exit_code == 1
    assert "cannot read" in result.stderr and "Is a directory" in result.stderr and "Traceback" not in result.output


def test_corrupt_lines_are_skipped_with_a_warning(dataset, data_dir):
    path = os.path.join(data_dir, "captures", dataset["yesterday"] + ".jsonl")
    with open(path, "ab") as handle:
        handle.write(b'{"id": "half a line\n[1, 2]\n{"no": "capture fields"}\n')
    write_captures(data_dir, [make_capture(days_ago(1, hour=20), smartech_body())])
    result = invoke(list_captures, data_dir, "--json")
    assert len(listed(result)) == 9
    assert f"warning: {path} line 7: not JSON (JSONDecodeError); skipped" in result.stderr
    assert f"warning: {path} line 8: not a JSON object; skipped" in result.stderr
    assert f"warning: {path} line 9: not a capture record; skipped" in result.stderr


def test_missing_data_dir_is_a_usage_error(tmp_path):
    result = invoke(list_captures, str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_show_decodes_the_payload_lists_events_and_the_trailing_html(dataset, data_dir):
    web = dataset["new"][3]
    result = invoke(show, data_dir, web["id"].lower())
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"capture {web['id']}\n")
    assert "content_type: application/x-www-form-urlencoded" in out
    assert "warnings\n  - trailing text after JSON: '<div>'" in out
    assert '"journey_name": "act on webhook trigger test1"' in out  # the pretty-printed payload
    assert "events (1;" in out and f'"event_id": "{samples.WEB_ACTIVITY_GUID}"' in out
    assert "body as received" not in out
    assert not ANSI.search(result.output)


def test_show_raw_and_json(dataset, data_dir):
    api = dataset["new"][5]
    raw = invoke(show, data_dir, api["id"], "--raw")
    assert "body as received\n" + EMAIL_API_BODY in raw.stdout
    document = json.loads(invoke(show, data_dir, api["id"], "--json").stdout)
    assert document["capture"] == api
    assert document["payload"][0]["TRANSID"] == 9007199254740993123
    [event] = document["events"]
    assert event["event_id"] == f"c:{api['id']}:0" and event["raw"]["TRANSID"] == 9007199254740993123
    assert [fate["state"] for fate in document["written"]] == ["waiting"]  # no worker has processed it
    assert document["status"] == "ok" and document["reason"] is None


def test_show_a_rejected_capture_prints_the_reason_and_the_body(dataset, data_dir):
    bad = dataset["new"][2]
    result = invoke(show, data_dir, bad["id"])
    assert result.exit_code == 0
    assert "status:       rejected" in result.stdout
    assert "rejected\n  invalid JSON:" in result.stdout
    assert "body as received\ndata=%7B%22p%22%3A%5B" in result.stdout


def test_show_reads_gzipped_days(dataset, data_dir):
    result = invoke(show, data_dir, dataset["old"][1]["id"], "--json")
    assert json.loads(result.stdout)["capture"] == dataset["old"][1]


def test_show_unknown_and_malformed_ids(dataset, data_dir):
    unknown = make_capture(utc(2025, 1, 1), "x")["id"]
    result = invoke(show, data_dir, unknown)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: unknown capture id {unknown} (not in {data_dir}/captures)"]
    result = invoke(show, data_dir, "not-an-id")
    assert result.exit_code == 2 and "'not-an-id' is not a capture id" in result.output


def test_tail_shows_the_last_captures_reaching_into_older_files(dataset, data_dir):
    assert listed(invoke(tail, data_dir, "--json", "-n", "2")) == ids(dataset["new"], 4, 5)
    assert listed(invoke(tail, data_dir, "--json", "-n", "7")) == ids(dataset["old"], 1) + ids(
        dataset["new"], *range(6)
    )
    assert listed(invoke(tail, data_dir, "--json", "-n", "2", "--foreignkey", "9999999997")) == ids(
        dataset["new"], 0, 4
    )
    table = invoke(tail, data_dir, "-n", "1")
    assert table.stdout.splitlines()[0].startswith("RECEIVED (UTC)") and dataset["new"][5]["id"] in table.stdout


def test_stats_counts_per_day_name_channel_activity_rejects_and_sizes(dataset, data_dir):
    result = invoke(stats, data_dir, "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    table = {(row["table"], row.get("key")): row for row in rows}
    older, yesterday = table[("day", dataset["older"])], table[("day", dataset["yesterday"])]
    assert (older["captures"], older["events"], older["rejected"]) == (2, 2, 0)
    assert (yesterday["captures"], yesterday["events"], yesterday["rejected"], yesterday["warnings"]) == (6, 6, 1, 1)
    assert yesterday["bytes"] == sum(record["size"] for record in dataset["new"])
    assert table[("webhook_name", "SMS_CLICK")]["events"] == 2
    assert table[("channel", "email")]["events"] == 3 and table[("channel", "sms")]["events"] == 3
    assert table[("activity", "click")]["events"] == 3
    assert table[("reject_reason", "invalid JSON: Expecting value: line 1 column 7 (char 6)")]["captures"] == 1
    sizes = table[("sizes", None)]
    everything = dataset["old"] + dataset["new"]
    assert sizes["captures"] == 8 and sizes["bytes"] == sum(r["size"] for r in everything)
    assert sizes["max"] == max(r["size"] for r in everything) and sizes["min"] == min(r["size"] for r in everything)


def test_stats_by_hour_with_filters_and_as_tables(dataset, data_dir):
    result = invoke(stats, data_dir, "--json", "--by", "hour", "--since", "yesterday", "--channel", "sms")
    hours = [json.loads(line)["key"] for line in result.stdout.splitlines() if json.loads(line)["table"] == "hour"]
    assert hours == [f"{dataset['yesterday']} 09", f"{dataset['yesterday']} 13"]
    text = invoke(stats, data_dir).stdout
    assert "captures by day (UTC)" in text and "events by webhook_name" in text and "rejects: 1" in text
    assert re.search(rf"{dataset['yesterday']}\s+6\s+6\s+1\s+1\s", text)
    assert "payload sizes: 8 captures" in text


def test_stats_bad_period_is_a_usage_error(data_dir, tmp_path):
    result = invoke(stats, str(tmp_path), "--by", "week")
    assert result.exit_code == 2 and "'week' is not one of" in result.output
