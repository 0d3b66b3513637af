"""Check every acknowledged request against the captures log: each 200's capture id must be on disk."""

import glob
import json
import os

from receiver.core import layout
from receiver.forwarder import backlog

ID_PREFIX = b'{"id":"'
ID_LENGTH = 26


def snapshot(data_dir):
    """Return the size of every captures file, to read what a round adds."""
    return {
        path: os.path.getsize(path) for path in glob.glob(os.path.join(data_dir, layout.CAPTURES, "*" + layout.SUFFIX))
    }


def ids_since(data_dir, before):
    """Return the ids of the capture lines written after ``before`` (a ``snapshot``)."""
    found = []
    for path, size in snapshot(data_dir).items():
        with open(path, "rb") as handle:
            handle.seek(before.get(path, 0))
            for line in handle.read(size - before.get(path, 0)).splitlines():
                # The receiver writes the id first; parse the line only if that ever changes.
                found.append(line[7 : 7 + ID_LENGTH].decode() if line.startswith(ID_PREFIX) else json.loads(line)["id"])
    return found


def check(data_dir, before, ids_file, result):
    """Compare a round's 200s (ids from wrk) with the captures it added; return the check as a dict."""
    with open(ids_file) as handle:
        acked = [line.strip() for line in handle if line.strip()]
    captured = ids_since(data_dir, before)
    missing = len(set(acked) - set(captured))
    extra = len(captured) - len(acked)
    ok = (
        missing == 0
        and len(acked) == result["ok"]
        and len(set(captured)) == len(captured)
        and 0 <= extra <= result["in_flight"]
        and result["other"] == 0
    )
    return {
        "acked_200": result["ok"],
        "ids_read": len(acked),
        "captures": len(captured),
        "missing": missing,
        "extra_in_flight": extra,
        "in_flight": result["in_flight"],
        "ok": ok,
    }


def pending(data_dir):
    """Return how many captures the forwarder has not yet handed to RQ."""
    count, _ = backlog.pending(data_dir)
    return count
