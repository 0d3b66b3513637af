"""prune and compress: whole days of all three kinds, gz read transparently, nothing lost to a late writer."""

import gzip
import os
import stat

import pytest
from click.testing import CliRunner

from receiver.core import jsonl
from receiver.forwarder import cursor
from receiver.ops import gzday
from scripts.ops.tidy import compress, prune
from scripts.view.listing import list_captures
from tests.support.capture_factory import days_ago, make_capture, read_all, smartech_body, write_captures
from tests.support.helpers import append_records

KINDS = ("captures", "events", "rejects")


def day(days):
    """Return the day file name of ``days`` days ago."""
    return days_ago(days).strftime("%Y-%m-%d")


def fill(data_dir, *ages, forwarded=True):
    """Write one capture, one event and one reject for each age in days; return the captures.

    With ``forwarded``, the forwarder's cursor says every day before today was handed to the queue.
    """
    if forwarded:
        cursor.save(data_dir, cursor.Cursor(day(0), 0))
    written = []
    for age in ages:
        record = write_captures(data_dir, [make_capture(days_ago(age), smartech_body())])[0]
        append_records(data_dir, "events", [{"event_id": f"e-{age}", "capture_id": record["id"]}], day=day(age))
        append_records(data_dir, "rejects", [{"capture_id": record["id"], "reason": "test"}], day=day(age))
        written.append(record)
    return written


def names(data_dir):
    """Return the sorted ``kind/file`` names under the data dir."""
    return sorted(
        f"{kind}/{name}"
        for kind in KINDS
        if os.path.isdir(os.path.join(data_dir, kind))
        for name in os.listdir(os.path.join(data_dir, kind))
    )


def invoke(command, data_dir, *args):
    """Run ``command`` with ``--data-dir``."""
    return CliRunner().invoke(command, ["--data-dir", data_dir, *args])


def test_compress_gzips_closed_days_of_every_kind_and_readers_see_the_same(data_dir):
    records = fill(data_dir, 2, 1, 0)
    before = {kind: read_all(data_dir, kind) for kind in KINDS}
    listing = invoke(list_captures, data_dir, "--json").stdout
    result = invoke(compress, data_dir)
    assert result.exit_code == 0, result.output
    assert names(data_dir) == sorted(
        f"{kind}/{day(age)}{ext}" for kind in KINDS for age, ext in ((2, ".jsonl.gz"), (1, ".jsonl.gz"), (0, ".jsonl"))
    )
    assert f"compressed captures/{day(2)}.jsonl (" in result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"compressed 6 files of days up to {day(1)}")
    assert {kind: read_all(data_dir, kind) for kind in KINDS} == before
    assert invoke(list_captures, data_dir, "--json").stdout == listing
    path = os.path.join(data_dir, "captures", f"{day(1)}.jsonl.gz")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with gzip.open(path, "rb") as handle:
        assert handle.read() == jsonl.encode_line(records[1])
    assert not [n for n in os.listdir(os.path.join(data_dir, "captures")) if n.startswith(".")]
    assert invoke(compress, data_dir).stdout.splitlines() == [f"compressed 0 files of days up to {day(1)}: 0 B -> 0 B"]


def test_compress_dry_run_changes_nothing(data_dir):
    fill(data_dir, 3, 0)
    before = names(data_dir)
    result = invoke(compress, data_dir, "--dry-run")
    assert result.exit_code == 0
    assert f"would compress events/{day(3)}.jsonl (" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("would compress 3 files (")
    assert names(data_dir) == before


def test_a_day_written_to_after_compression_is_merged_in_order(data_dir):
    first = fill(data_dir, 2)
    invoke(compress, data_dir)
    later = write_captures(data_dir, [make_capture(days_ago(2, hour=18), smartech_body())])
    assert [r["id"] for r in read_all(data_dir, "captures")] == [first[0]["id"], later[0]["id"]]
    assert invoke(list_captures, data_dir, "--json").stdout.count("\n") == 2
    assert invoke(compress, data_dir).exit_code == 0
    assert f"captures/{day(2)}.jsonl" not in names(data_dir)
    with gzip.open(os.path.join(data_dir, "captures", f"{day(2)}.jsonl.gz"), "rb") as handle:
        assert handle.read() == jsonl.encode_line(first[0]) + jsonl.encode_line(later[0])


def test_a_writer_that_opened_the_file_before_compression_writes_to_the_new_file(data_dir):
    fill(data_dir, 2)
    plain = os.path.join(data_dir, "events", f"{day(2)}.jsonl")
    early = [jsonl.open_for_append(plain)]  # a worker opened the file, then waited for its lock

    def opener(path):
        return early.pop() if early else jsonl.open_for_append(path)

    gzday.compress(plain)  # compression finished meanwhile: the file it opened is unlinked
    assert not os.path.exists(plain)
    with jsonl.locked(plain, opener=opener) as fd:
        jsonl.locked_append(fd, jsonl.encode_line({"event_id": "late"}))
    assert [e["event_id"] for e in read_all(data_dir, "events")] == ["e-2", "late"]
    assert stat.S_IMODE(os.stat(plain).st_mode) == 0o600


def test_without_a_cursor_no_captures_day_counts_as_forwarded(data_dir):
    fill(data_dir, 40, 3, forwarded=False)
    result = invoke(compress, data_dir)
    assert f"kept captures/{day(40)}.jsonl: the forwarder has not handed all of it to the queue" in result.stdout
    assert invoke(prune, data_dir, "--older-than", "30d").exit_code == 0
    assert f"captures/{day(40)}.jsonl" in names(data_dir) and f"events/{day(40)}.jsonl.gz" not in names(data_dir)


def test_captures_the_forwarder_has_not_finished_are_kept(data_dir):
    fill(data_dir, 3, 2)
    cursor.save(data_dir, cursor.Cursor(day(2), 0))
    result = invoke(compress, data_dir)
    assert f"kept captures/{day(2)}.jsonl: the forwarder has not handed all of it to the queue" in result.stdout
    assert f"captures/{day(2)}.jsonl" in names(data_dir) and f"captures/{day(3)}.jsonl.gz" in names(data_dir)
    assert f"events/{day(2)}.jsonl.gz" in names(data_dir)


def test_prune_deletes_whole_days_older_than_the_age(data_dir):
    fill(data_dir, 45, 31, 30, 0)
    invoke(compress, data_dir)  # 45, 31 and 30 days are now .jsonl.gz
    append_records(data_dir, "events", [{"event_id": "late"}], day=day(45))  # and a plain file next to one
    dry = invoke(prune, data_dir, "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0
    assert f"would delete events/{day(45)}.jsonl (" in dry.stdout and "nothing was deleted" in dry.stdout
    kept = names(data_dir)
    assert len(kept) == 13
    result = invoke(prune, data_dir, "--older-than", "30d")
    assert result.exit_code == 0, result.output
    deleted = [line.split()[1] for line in result.stdout.splitlines()[:-1]]
    assert sorted(deleted) == sorted(n for n in kept if day(45) in n or day(31) in n) and len(deleted) == 7
    assert names(data_dir) == sorted(n for n in kept if n not in deleted)
    assert result.stdout.splitlines()[-1].startswith("deleted 7 files (")
    assert [r["received_at"][:10] for r in read_all(data_dir, "captures")] == [day(30), day(0)]


def test_prune_by_date_never_touches_today(data_dir):
    fill(data_dir, 5, 0)
    result = invoke(prune, data_dir, "--older-than", "now")
    assert result.exit_code == 0
    assert {n.split("/")[1][:10] for n in names(data_dir)} == {day(0)}


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "Missing option '--older-than'"),
        (["--older-than", "a while"], "cannot read 'a while' as a time"),
        (["--older-than", "2999-01-01"], "must be in the past"),
    ],
)
def test_prune_bad_input(data_dir, args, message):
    os.makedirs(data_dir)
    result = invoke(prune, data_dir, *args)
    assert result.exit_code == 2 and message in result.output


def test_unwritable_data_is_one_error(data_dir):
    fill(data_dir, 3)
    folder = os.path.join(data_dir, "captures")
    os.makedirs(os.path.join(folder, f".{day(3)}.jsonl.gz.{os.getpid()}.tmp"))  # the temporary name is taken
    result = invoke(compress, data_dir)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: cannot compress: [Errno 17] File exists")
