"""The quarantine of refused posts: kept private and capped, oldest first; released as a capture exactly once."""

import os
import stat
import time

import pytest

from receiver.core import ids, layout
from receiver.forwarder.loop import Forwarder
from receiver.ops import handover, quarantine
from tests.support.batches import queued_captures
from tests.support.helpers import read_kind

REQUEST = {
    "source": "crm",
    "remote_addr": "10.1.2.3",
    "method": "POST",
    "path": "/webhook/crm",
    "query": "",
    "content_type": "application/x-www-form-urlencoded",
    "reason": "missing or wrong credentials",
}
HEADERS = [("Authorization", "Basic c21hcnRlY2g6b2xk"), ("Content-Type", REQUEST["content_type"]), ("X-A", "1")]
BODY = b'data={"smartech":[{"webhook_name":"EMAIL_OPEN"}]}'
CAP = 1024 * 1024


def kept(data_dir, body=BODY, cap=CAP):
    return quarantine.keep(data_dir, cap, REQUEST, HEADERS, body)


def test_a_refused_post_is_kept_private_without_its_authorization(data_dir):
    entry_id = kept(data_dir)
    header, body = quarantine.read_record(data_dir, entry_id)
    assert body == BODY
    assert header["headers"] == [["Content-Type", REQUEST["content_type"]], ["X-A", "1"]]
    assert (header["source"], header["remote_addr"], header["user"], header["released_as"]) == (
        "crm",
        "10.1.2.3",
        None,
        None,
    )
    path = os.path.join(data_dir, "quarantine", entry_id + ".post")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    with open(path, "rb") as handle:
        assert b"c21hcnRlY2g6b2xk" not in handle.read()


def test_the_cap_drops_the_oldest_first_and_a_post_alone_over_it_is_not_kept(data_dir):
    first = kept(data_dir)
    size = quarantine.entries(data_dir)[0].size
    second, third = kept(data_dir, cap=2 * size), kept(data_dir, cap=2 * size)
    assert [entry.id for entry in quarantine.entries(data_dir)] == [second, third]
    assert first not in {entry.id for entry in quarantine.entries(data_dir)}
    assert kept(data_dir, body=b"x" * 100, cap=50) is None
    assert kept(data_dir, cap=0) is None


def test_summary_counts_posts_bytes_recent_and_the_newest_age(data_dir):
    assert quarantine.summary(data_dir, time.time()) == {
        "posts": 0,
        "bytes": 0,
        "recent": 0,
        "newest_age_seconds": None,
    }
    kept(data_dir)
    kept(data_dir)
    now = time.time()
    found = quarantine.summary(data_dir, now)
    assert (found["posts"], found["recent"]) == (2, 2) and found["bytes"] > 2 * len(BODY)
    assert 0 <= found["newest_age_seconds"] < 60
    assert quarantine.summary(data_dir, now + 2 * 86400)["recent"] == 0


def test_release_makes_one_capture_once_and_the_forwarder_queues_it(env, data_dir, redis_conn):
    entry_id = kept(data_dir)
    capture_id, now = handover.release(data_dir, entry_id, fsync=False)
    assert now is True and capture_id != entry_id
    [record] = read_kind(data_dir, "captures")
    assert (record["id"], record["released_from"], record["source"], record["body"]) == (
        capture_id,
        entry_id,
        "crm",
        BODY.decode(),
    )
    assert record["user"] is None and "Authorization" not in str(record)
    assert handover.release(data_dir, entry_id.lower(), fsync=False) == (capture_id, False)
    assert len(read_kind(data_dir, "captures")) == 1
    header, _ = quarantine.read_record(data_dir, entry_id)
    assert header["released_as"] == capture_id
    assert quarantine.summary(data_dir, time.time())["posts"] == 0  # released: no longer waiting
    from receiver.core.settings import load

    Forwarder(load(overrides=env)).drain()
    assert queued_captures(redis_conn) == [capture_id]


def test_a_release_cut_short_after_its_write_does_not_write_twice(data_dir):
    entry_id = kept(data_dir)
    capture_id, _ = handover.release(data_dir, entry_id, fsync=False)
    # As if the process died between the capture's write and the entry's last rewrite.
    folder = os.path.join(data_dir, layout.QUARANTINE_DIR)
    header, body = quarantine.read_record(data_dir, entry_id)
    handover.rewrite(
        os.path.join(folder, entry_id + ".released"),
        {**header, "released_as": None},
        body,
        os.path.join(folder, entry_id + ".post"),
    )
    assert handover.release(data_dir, entry_id, fsync=False) == (capture_id, True)
    assert [record["id"] for record in read_kind(data_dir, "captures")] == [capture_id]


@pytest.mark.parametrize("bad", ["nope", "../../etc/passwd", ids.new_id()])
def test_an_unknown_id_is_named(data_dir, bad):
    kept(data_dir)
    with pytest.raises(quarantine.UnknownEntry, match="quarantine"):
        quarantine.read_record(data_dir, bad)
    with pytest.raises(quarantine.UnknownEntry):
        handover.release(data_dir, bad)


def test_drop_removes_the_post(data_dir):
    entry_id = kept(data_dir)
    quarantine.drop(data_dir, entry_id)
    assert quarantine.entries(data_dir) == []
    with pytest.raises(quarantine.UnknownEntry):
        quarantine.drop(data_dir, entry_id)
