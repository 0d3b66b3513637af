"""The library below the CLI (``receiver.store``): what the web inspector will call, without click."""

import ast
import gzip
import io
import os
from datetime import timedelta

import pytest

import receiver.store
from receiver.core import jsonl, layout
from receiver.core.lines import complete_lines
from receiver.core.logsafe import one_line
from receiver.store.backwards import lines_backwards, records_backwards
from receiver.store.files import DataFileError
from receiver.store.filters import Filters, WindowError
from receiver.store.select import BadCaptureId, capture_reader, normal_id, page, select
from receiver.store.summary import Tally, summary
from tests.support.capture_factory import make_capture, smartech_body, utc, write_captures, write_gz

WHEN = utc(2026, 3, 1, 9, 0, 0)


@pytest.fixture
def three_days(tmp_path):
    """Write 5 captures a day for three days, the first day compressed; return the data dir and the ids in order."""
    data_dir = str(tmp_path)
    days = [
        [make_capture(WHEN + timedelta(days=day, minutes=n), smartech_body()) for n in range(5)] for day in range(3)
    ]
    write_gz(data_dir, layout.CAPTURES, days[0][0]["received_at"][:10], days[0])
    for records in days[1:]:
        write_captures(data_dir, records)
    return data_dir, [record["id"] for records in days for record in records]


def test_library_modules_never_import_click_nor_the_cli():
    folder = os.path.dirname(receiver.store.__file__)
    for name in os.listdir(folder):
        if name.endswith(".py"):
            tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
            imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
            assert not {module.partition(".")[0] for module in imported} & {"click", "scripts"}, name


def test_select_streams_oldest_or_newest_first_across_gz_and_plain_files(three_days):
    data_dir, ids = three_days
    oldest = [record["id"] for record, _ in select(data_dir, Filters(), capture_reader())]
    newest = [record["id"] for record, _ in select(data_dir, Filters(), capture_reader(), newest_first=True)]
    assert oldest == ids
    assert newest == ids[::-1]


def test_a_page_reads_only_what_it_shows(three_days):
    data_dir, ids = three_days
    pairs = select(data_dir, Filters(), capture_reader(), newest_first=True)
    first, more = page(pairs, 0, 4)
    assert [record["id"] for record, _ in first] == ids[::-1][:4] and more
    last, more = page(select(data_dir, Filters(), capture_reader()), 12, 4)
    assert [record["id"] for record, _ in last] == ids[12:] and not more


def test_lines_backwards_joins_lines_split_across_blocks():
    lines = [b"x" * size for size in (0, 1, 7, 8, 9, 30)] + [b"tail"]
    text = b"\n".join(lines)
    assert list(lines_backwards(io.BytesIO(text), block=8)) == lines[::-1]


def test_the_reader_warns_through_its_callback_and_prints_nothing(tmp_path, capsys):
    path = tmp_path / "2026-03-01.jsonl"
    path.write_bytes(b"not json\n[1]\n" + jsonl.encode_line(make_capture(WHEN, smartech_body())))
    warnings = []
    reader = capture_reader(warnings.append)
    assert len(list(reader.stream([str(path)]))) == 1
    assert warnings == [
        f"{path} line 1: not JSON (JSONDecodeError); skipped",
        f"{path} line 2: not a JSON object; skipped",
    ]
    assert capsys.readouterr() == ("", "")


def test_a_gz_day_that_is_cut_short_is_a_data_file_error_backwards_too(tmp_path):
    path = tmp_path / "2026-03-01.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl.encode_line(make_capture(WHEN, smartech_body())))[:-12])
    with pytest.raises(DataFileError, match="cannot read"):
        list(records_backwards(capture_reader(), str(path)))


def test_library_errors_are_plain_exceptions():
    with pytest.raises(BadCaptureId, match="is not a capture id"):
        normal_id("nope")
    with pytest.raises(WindowError, match=r"--since \(1h\) must be before --until \(2h\)"):
        Filters(since="1h", until="2h").check_window()


def test_summary_and_tally_are_json_safe_views(three_days):
    data_dir, ids = three_days
    tally = Tally("day")
    for record, analysis in select(data_dir, Filters(), capture_reader()):
        assert summary(record, analysis)["webhook_names"] == ["SMS_CLICK"]
        tally.add(record, analysis)
    assert tally.size_summary()["captures"] == len(ids)
    assert [counts["captures"] for table, _, counts in tally.rows("day") if table == "day"] == [5, 5, 5]


def test_complete_lines_stop_at_a_line_still_being_written():
    handle = io.BytesIO(b"one\ntwo\nthr")
    assert list(complete_lines(handle)) == [(0, b"one\n"), (4, b"two\n")]
    assert list(complete_lines(handle, 4)) == [(4, b"two\n")]


def test_one_line_joins_a_message_or_names_the_type():
    assert one_line(OSError("a\n  b\tc")) == "a b c"
    assert one_line(TimeoutError()) == "TimeoutError"
    assert layout.KINDS == (layout.CAPTURES, layout.EVENTS, layout.REJECTS)
