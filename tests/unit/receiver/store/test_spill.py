"""The spill cache of decompressed ``.gz`` days (``receiver/store/spill.py``) over real files in a private $TMPDIR."""

import gzip
import os
import stat
import tempfile

import pytest

from receiver.store.files import DataFileError
from receiver.store.spill import PREFIX, spilled

MB = 1024 * 1024


@pytest.fixture
def tmpdir_(tmp_path, monkeypatch):
    """Point $TMPDIR (and tempfile's cached answer) at a fresh directory; return the spill directory's path."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    return str(root / f"{PREFIX}{os.getuid()}")


def gz_day(folder, name, size):
    """Write a ``.gz`` of ``size`` bytes of distinct lines; return its path and its bytes."""
    data = b"".join(b"%08d %s\n" % (i, os.urandom(20).hex().encode()) for i in range(size // 50))
    path = os.path.join(folder, name)
    with gzip.open(path, "wb") as handle:
        handle.write(data)
    return path, data


def spill_files(spill_dir):
    return sorted(name for name in os.listdir(spill_dir) if not name.endswith(".lock"))


def test_a_day_is_spilled_once_privately_and_read_at_any_offset(tmp_path, tmpdir_):
    path, data = gz_day(tmp_path, "2026-11-28.jsonl.gz", MB)
    with spilled(path) as first, spilled(path) as second:
        first.seek(len(data) // 2)
        assert first.read() == data[len(data) // 2 :] and second.read() == data
    assert len(spill_files(tmpdir_)) == 1
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(path), "tmp"])  # nothing beside the day
    assert stat.S_IMODE(os.stat(tmpdir_).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(os.path.join(tmpdir_, n)).st_mode) for n in os.listdir(tmpdir_)} == {0o600}


def test_the_cap_evicts_the_least_recently_used_and_refuses_a_day_over_it(tmp_path, tmpdir_):
    older, _ = gz_day(tmp_path, "2026-11-27.jsonl.gz", MB)
    newer, newer_data = gz_day(tmp_path, "2026-11-28.jsonl.gz", MB)
    with spilled(older, cap=int(1.5 * MB)):
        pass
    with spilled(newer, cap=int(1.5 * MB)) as handle:
        assert handle.read() == newer_data
    assert len(spill_files(tmpdir_)) == 1  # the older day made room
    huge, _ = gz_day(tmp_path, "2026-11-29.jsonl.gz", 2 * MB)
    with pytest.raises(DataFileError, match=r"2026-11-29\.jsonl\.gz decompresses to more than the 1,572,864 bytes"):
        with spilled(huge, cap=int(1.5 * MB)):
            pass
    assert not [name for name in os.listdir(tmpdir_) if ".part" in name]  # the cut copy is gone


def test_a_spill_directory_others_can_read_is_refused(tmp_path, tmpdir_):
    path, _ = gz_day(tmp_path, "2026-11-28.jsonl.gz", 1000)
    os.makedirs(tmpdir_, mode=0o755)
    os.chmod(tmpdir_, 0o755)
    with pytest.raises(DataFileError, match="must be a directory of this user alone"):
        with spilled(path):
            pass
