"""Time expressions of --since, --until and --older-than."""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from receiver.store.timeexpr import TimeExprError, parse_time
from scripts.view.listing import list_captures

NOW = datetime(2026, 11, 29, 8, 30, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("now", NOW),
        ("today", datetime(2026, 11, 29, tzinfo=UTC)),
        ("Yesterday", datetime(2026, 11, 28, tzinfo=UTC)),
        ("30s", NOW - timedelta(seconds=30)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(days=14)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("90", NOW - timedelta(seconds=90)),  # the settings' duration grammar: a bare number is seconds
        ("20261128", datetime(2026, 11, 28, tzinfo=UTC)),  # ISO first: a basic date stays a date
        ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
        ("2026-11-28T08:30", datetime(2026, 11, 28, 8, 30, tzinfo=UTC)),
        ("2026-11-28 08:30:01.123Z", datetime(2026, 11, 28, 8, 30, 1, 123000, tzinfo=UTC)),
        ("2026-11-28T14:00+05:30", datetime(2026, 11, 28, 8, 30, tzinfo=UTC)),
    ],
)
def test_expressions_resolve_to_utc(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["", "tomorrowish", "2h ago", "-2h", "5y", "2026-13-01", "2026-11-31", "28/11/2026", "12:00", "999999999999w"]
    + ["0001-01-01", "9999-12-31T23:59:59-05:00", "1969-12-31T23:59Z", "100000w"],
)
def test_bad_expressions_are_refused(text):
    with pytest.raises(TimeExprError, match="cannot read"):
        parse_time(text, NOW)


def test_without_now_the_clock_is_used():
    before = datetime.now(UTC)
    assert before - timedelta(hours=2, seconds=1) <= parse_time("2h") <= datetime.now(UTC)


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_a_bad_expression_on_the_command_line_is_one_usage_error(option, tmp_path):
    result = CliRunner().invoke(list_captures, ["--data-dir", str(tmp_path), option, "last tuesday"])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': cannot read 'last tuesday' as a time" in result.output
    assert "Traceback" not in result.output


def test_since_after_until_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(list_captures, ["--data-dir", str(tmp_path), "--since", "1h", "--until", "2h"])
    assert result.exit_code == 2
    assert "--since (1h) must be before --until (2h)" in result.output
