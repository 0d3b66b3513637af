"""A hand-made captures file with odd values: commands list what they can, warn about the rest, never trace back."""

import json
import os

import pytest
from click.testing import CliRunner

from scripts.replay.command import replay
from scripts.view.listing import list_captures
from scripts.view.show import show
from scripts.view.stats import stats
from scripts.view.tail import tail
from tests.support.capture_factory import capture_id_at, make_capture, smartech_body, utc
from tests.support.hostile import assert_safe

WHEN = utc(2026, 3, 1, 9, 0, 0)
HUGE = 10**4000  # 4,001 digits: still under Python's int-to-text limit, far beyond any float
OVERFLOWING = "[" + "9" * 5000 + "]"  # beyond Python's int-to-text limit: the analysis cannot read it
DEEP = 100_000
DRY_TARGET = "http://127.0.0.1:9/"


@pytest.fixture
def odd(data_dir):
    """Write a normal capture, five odd ones and a line nested too deeply, then another normal one."""
    first, last = make_capture(WHEN, smartech_body()), make_capture(WHEN.replace(second=9), smartech_body())

    def at(second, **fields):
        return {**first, "id": capture_id_at(WHEN.replace(second=second)), **fields}

    records = {
        "first": first,
        "types": at(1, source={"nested": [1, None]}, user=["u"], size=HUGE, received_at="", method=None),
        "surrogate": at(2, source="\ud800", user="\udfff", size="12 KiB"),
        "infinite": at(3, size=float("inf"), method=float("nan")),
        "overflowing": at(4, body=OVERFLOWING, content_type="application/json", size=len(OVERFLOWING)),
        "bad_base64": at(5, body="%%% not base64", body_encoding="base64"),
        "last": last,
    }
    folder = os.path.join(data_dir, "captures")
    os.makedirs(folder)
    lines = [json.dumps(record) for record in records.values()]  # ASCII: lone surrogates as \ud800
    lines.insert(-1, "[" * DEEP + "]" * DEEP)
    with open(os.path.join(folder, "2026-03-01.jsonl"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return records


def run(command, data_dir, *args, status=0):
    """Run a command; check it ended as expected, without a traceback, and wrote only safe text."""
    result = CliRunner().invoke(command, ["--data-dir", data_dir, *args])
    assert status is None or result.exit_code == status, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert_safe(result.stdout)
    assert_safe(result.stderr, one_per_line=True)
    return result


def listed_or_warned(result, record):
    """Say whether ``record`` was listed (as a reject, once the analysis refuses it) or named in a warning."""
    return record["id"] in result.stdout or f"capture {record['id']}" in result.stderr


@pytest.mark.parametrize(
    "command, args",
    [
        (list_captures, []),
        (list_captures, ["--json"]),
        (list_captures, ["--rejects-only"]),
        (tail, ["-n", "20"]),
        (tail, ["--json"]),
        (stats, []),
        (stats, ["--json"]),
        (replay, ["--to", DRY_TARGET, "--dry-run"]),
        (replay, ["--to", DRY_TARGET, "--dry-run", "--json"]),
    ],
)
def test_every_command_carries_on_past_odd_records(odd, data_dir, command, args):
    result = run(command, data_dir, *args)
    assert "line 7: not JSON (nested too deeply); skipped" in result.stderr
    if "--json" in args:
        rows = [json.loads(line) for line in result.stdout.splitlines()]  # every line is standard JSON
        assert "Infinity" not in result.stdout and "NaN" not in result.stdout
    if command is stats:
        assert ('"table":"sizes"' if "--json" in args else "payload sizes:") in result.stdout
        assert "digits, over the limit" in result.stdout  # counted as a reject, with its reason
        return
    if command is replay or "--rejects-only" not in args:
        assert odd["last"]["id"] in result.stdout and odd["types"]["id"] in result.stdout
        assert odd["surrogate"]["id"] in result.stdout and odd["infinite"]["id"] in result.stdout
    if command is not replay:
        assert listed_or_warned(result, odd["overflowing"])
    if command is list_captures and "--json" in args:
        by_id = {row["id"]: row for row in rows}
        types = by_id[odd["types"]["id"]]
        assert types["size"] == HUGE and types["source"] == {"nested": [1, None]}
        assert by_id[odd["surrogate"]["id"]]["source"] == "\ud800" and by_id[odd["infinite"]["id"]]["size"] == "inf"


@pytest.mark.parametrize("name", ["types", "surrogate", "infinite", "bad_base64"])
def test_show_renders_odd_records(odd, data_dir, name):
    text = run(show, data_dir, odd[name]["id"], "--raw").stdout
    assert text.startswith(f"capture {odd[name]['id']}\n") and "body as received" in text
    out = run(show, data_dir, odd[name]["id"], "--json").stdout
    assert "Infinity" not in out and "NaN" not in out  # Python's json extensions, which jq refuses
    assert json.loads(out)["capture"]["id"] == odd[name]["id"]


def test_show_a_capture_the_analysis_cannot_read_ends_in_one_line_after_its_body(odd, data_dir):
    record = odd["overflowing"]
    result = run(show, data_dir, record["id"], status=None)
    assert "body as received\n[999" in result.stdout
    if result.exit_code:  # until the analysis turns it into a reject, show says why in one line
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: cannot show capture {record['id']} received at ")
        assert len(result.stderr.splitlines()) == 1
