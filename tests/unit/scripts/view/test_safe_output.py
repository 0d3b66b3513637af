"""Every reading command escapes what a payload or a record holds: no escape sequence reaches the output."""

import gzip
import json
import os

import pytest
from click.testing import CliRunner

from scripts.replay.command import replay
from scripts.view.listing import list_captures
from scripts.view.show import show
from scripts.view.stats import stats
from scripts.view.tail import tail
from tests.support.capture_factory import make_capture, smartech_body, utc
from tests.support.hostile import (
    CITY,
    ESCAPED,
    JSON_ESCAPED,
    PLACE,
    VALUE,
    assert_safe,
    assert_visible,
    hostile_captures,
    hostile_payload,
    write_day,
)

WHEN = utc(2026, 3, 1, 9, 0, 0)
DRY_TARGET = f"http://127.0.0.1:9/{VALUE}"


@pytest.fixture
def hostile(data_dir):
    """Write the four hostile captures to one day file; return them."""
    return write_day(data_dir, hostile_captures(WHEN))


def invoke(command, data_dir, *args):
    """Run ``command`` with ``--data-dir``, nothing masked (masking has tests of its own); return the result."""
    return CliRunner(env={"DUMPER_MASK_FIELDS": "none"}).invoke(command, ["--data-dir", data_dir, *args])


def safe_run(command, data_dir, *args, one_per_line=False):
    """Run a command that must succeed; check both streams are safe; return the result."""
    result = invoke(command, data_dir, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert_safe(result.stdout, one_per_line)
    assert_safe(result.stderr, one_per_line=True)
    return result


@pytest.mark.parametrize("command, args", [(list_captures, []), (tail, ["-n", "10"])])
def test_list_and_tail_tables_escape_every_cell_and_keep_one_row_per_capture(hostile, data_dir, command, args):
    out = safe_run(command, data_dir, *args, one_per_line=True).stdout
    lines = out.splitlines()
    assert len(lines) == 1 + len(hostile), out  # a newline or a tab in a value cannot forge a row
    assert_visible(out, ESCAPED[:2], natives=(CITY,))
    assert "\\x1b]0;p" in lines[1] and hostile[0]["id"] in lines[1]
    assert lines[4].split("  ")[1].startswith(f"{CITY}\\x1b]0;pwned")  # the forged id, escaped


@pytest.mark.parametrize("command", [list_captures, tail])
def test_list_and_tail_json_lines_are_escaped_and_round_trip(hostile, data_dir, command):
    out = safe_run(command, data_dir, "--json").stdout
    assert_visible(out, JSON_ESCAPED, natives=(CITY, PLACE))
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == [record["id"] for record in hostile]
    assert rows[0]["source"] == rows[0]["user"] == VALUE and rows[0]["received_at"] == hostile[0]["received_at"]
    assert rows[0]["webhook_names"] == rows[0]["foreignkeys"] == rows[0]["panels"] == [VALUE]


def test_stats_tables_escape_names_reasons_and_periods(hostile, data_dir):
    out = safe_run(stats, data_dir, one_per_line=True).stdout
    assert_visible(out, ESCAPED[:5], natives=(CITY,))
    webhook_rows = out.split("events by webhook_name\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(webhook_rows) == 2 and webhook_rows[1].startswith(f"{CITY}\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m")
    rows = [json.loads(line) for line in safe_run(stats, data_dir, "--json").stdout.splitlines()]
    assert {"table": "webhook_name", "key": VALUE, "events": 2} in rows
    assert {row["key"] for row in rows if row["table"] == "day"} == {"2026-03-01", VALUE[:10]}


def test_show_escapes_metadata_warnings_payload_and_events(hostile, data_dir):
    out = safe_run(show, data_dir, hostile[0]["id"]).stdout
    assert_visible(out)
    assert_visible(out, JSON_ESCAPED)  # inside the pretty-printed JSON, JSON's own escapes
    assert (
        f"  source:       {CITY}\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e\\x00\\x7f\\rtwo\\nlines\\tand a tab"
        f"{PLACE}\n" in out
    )
    payload = out.split("payload (decoded)\n", 1)[1].split("\nevents (", 1)[0]
    assert json.loads(payload) == hostile_payload()  # still JSON, and the same values


def test_show_rejected_prints_reason_and_body_escaped_keeping_its_lines(hostile, data_dir):
    out = safe_run(show, data_dir, hostile[1]["id"]).stdout
    assert_visible(out)
    assert "status:       rejected" in out
    assert f"body as received\n{CITY}\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e\\x00\\x7f\\rtwo\nlines\tand a tab" in out


def test_show_raw_escapes_the_body_and_shows_bytes_that_are_not_utf8(hostile, data_dir):
    out = safe_run(show, data_dir, hostile[2]["id"], "--raw").stdout
    assert "body as received\ndata=\\xff\\xfe\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e\\x00\\x7f\\rtwo\nlines\t" in out
    out = safe_run(show, data_dir, hostile[0]["id"], "--raw").stdout
    assert "body as received\ndata=%7B%22" in out and "\\x1b" in out


def test_show_json_is_escaped_valid_and_round_trips(hostile, data_dir):
    out = safe_run(show, data_dir, hostile[0]["id"], "--json").stdout
    assert_visible(out, JSON_ESCAPED)
    document = json.loads(out)
    assert document["capture"] == hostile[0] and document["payload"] == hostile_payload()
    assert document["events"][0]["webhook_name"] == document["events"][0]["journey_name"] == VALUE


@pytest.mark.parametrize("as_json", [False, True])
def test_replay_dry_run_lines_and_summary_are_escaped(hostile, data_dir, as_json):
    out = safe_run(
        replay, data_dir, "--to", DRY_TARGET, "--dry-run", *(["--json"] if as_json else []), one_per_line=True
    ).stdout
    lines = out.splitlines()
    sent = hostile[:3]  # the forged capture's received_at sorts after the replay's start: not selected
    assert len(lines) == len(sent) + 1
    if as_json:
        assert_visible(out, JSON_ESCAPED, natives=(CITY, PLACE))
        assert [json.loads(line).get("received_at") for line in lines[:-1]] == [r["received_at"] for r in sent]
        assert json.loads(lines[-1])["summary"]["target"] == f"POST {DRY_TARGET}"
    else:
        assert_visible(out)
        assert lines[-1].startswith(f"dry run: 3 captures would be sent to POST http://127.0.0.1:9/{CITY}\\x1b]0;")


def test_warnings_and_errors_quoting_a_path_are_escaped(tmp_path):
    data_dir = str(tmp_path / f"var{VALUE.replace(chr(0), '')}")
    write_day(data_dir, [make_capture(WHEN, smartech_body())])
    with open(os.path.join(data_dir, "captures", "2026-03-01.jsonl"), "ab") as handle:
        handle.write(b"not json\n")
    result = invoke(list_captures, data_dir)
    assert result.exit_code == 0 and "line 2: not JSON (JSONDecodeError); skipped" in result.stderr
    assert_safe(result.stderr, one_per_line=True)
    assert_visible(result.stderr, ESCAPED[:4])
    with gzip.open(os.path.join(data_dir, "captures", "2026-02-28.jsonl.gz"), "wb") as handle:
        handle.write(b"\n")
    with open(os.path.join(data_dir, "captures", "2026-02-28.jsonl.gz"), "r+b") as handle:
        handle.truncate(12)  # cut short: a corrupt file ends the command with one line
    result = invoke(list_captures, data_dir)
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot read ")
    assert_safe(result.stderr, one_per_line=True)
    assert_visible(result.stderr, ESCAPED[:4])
