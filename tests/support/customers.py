"""Captures of distinct customers for the privacy tests, and a byte search of a whole data dir."""

import gzip
import json
import os
import random

from receiver.replay import samples

# Customer A: a foreignkey, an identity (their e-mail) and a mobile holding the foreignkey, as Smartech sends them.
A_KEY, A_EMAIL, A_MOBILE = "7000000001", "asha.rao@example.com", "+917000000001"
B_KEY, B_MOBILE = "8000000002", "+918000000002"
A_TRACES = [A_KEY, A_EMAIL, A_MOBILE, "asha.rao%40example.com", "%2B917000000001"]


def event(customer, mobile, webhook="SMS_CLICK", identity=None):
    """Return one Smartech channel event of ``customer`` with their own mobile and guid."""
    found = samples.channel_event(webhook)
    found["event_params"].update(foreignkey=customer, guid=f"guid-{random.getrandbits(48):x}")
    if identity:
        found["event_params"]["identity"] = identity
    found["att_params"]["MOBILE"] = mobile
    return found


def smartech(*events):
    """Return a Smartech form body of ``events``."""
    return samples.encode_body(samples.payload(events))


def email_api(email):
    """Return an Email API JSON body of one open by ``email``."""
    return json.dumps([{"TRANSID": random.getrandbits(40), "EMAIL": email, "EVENT": "opened", "TIMESTAMP": 1}])


def a_body():
    """Return a capture body of customer A (foreignkey, identity and mobile)."""
    return smartech(event(A_KEY, A_MOBILE, identity=A_EMAIL))


def b_body():
    """Return a capture body of customer B."""
    return smartech(event(B_KEY, B_MOBILE, "EMAIL_OPEN"))


def data_files(data_dir):
    """Yield ``(path, bytes)`` of every regular file under ``data_dir``, ``.gz`` decompressed."""
    for root, _, names in os.walk(data_dir):
        for name in sorted(names):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                with (gzip.open if name.endswith(".gz") else open)(path, "rb") as handle:
                    yield path, handle.read()


def traces(data_dir, words=A_TRACES):
    """Return ``(file, word)`` for each word found in a file of ``data_dir``."""
    return [(path, word) for path, data in data_files(data_dir) for word in words if word.encode() in data]


def lines_of_kind(data_dir, kind):
    """Return every line of ``kind``'s day files, ``.gz`` decompressed, by file."""
    folder = os.path.join(data_dir, kind)
    found = {}
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.startswith("."):
            with (gzip.open if name.endswith(".gz") else open)(os.path.join(folder, name), "rb") as handle:
                found[name] = handle.read().split(b"\n")
    return found


def names_a(line):
    """Say whether ``line`` holds any of A's traces."""
    return any(word.encode() in line for word in A_TRACES)


def others_lines(data_dir, kinds=("captures", "events", "rejects")):
    """Return ``{(kind, file): {line number: line}}`` of the lines naming none of A's traces: they must stay."""
    return {
        (kind, name): {n: line for n, line in enumerate(lines) if line and not names_a(line)}
        for kind in kinds
        for name, lines in lines_of_kind(data_dir, kind).items()
    }


def unchanged(before, data_dir):
    """Return the lines of ``before`` (``others_lines``) that are no longer where they were, byte for byte."""
    now = {
        (kind, name): lines
        for kind in ("captures", "events", "rejects")
        for name, lines in lines_of_kind(data_dir, kind).items()
    }
    return [
        (key, n)
        for key, lines in before.items()
        for n, line in lines.items()
        if n >= len(now.get(key, [])) or now[key][n] != line
    ]
