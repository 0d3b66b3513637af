"""``smartech-dumper quarantine list|show|release|drop`` on real files; what it prints is terminal-safe."""

import json
import os

import pytest
from click.testing import CliRunner

from receiver.ops import quarantine
from scripts.cli import main
from tests.support.helpers import read_kind

SETTING_PREFIXES = ("DUMPER_", "REDIS_URL")
HOSTILE = "\x1b]0;pwned\x07\x1b[2J"
REQUEST = {
    "source": "crm",
    "remote_addr": "10.1.2.3",
    "method": "POST",
    "path": "/webhook/crm",
    "query": "",
    "content_type": "text/plain" + HOSTILE,
    "reason": "missing or wrong credentials",
}


@pytest.fixture
def environment(monkeypatch, env):
    """Replace every receiver setting in the environment with the test ``env``."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def run(*args):
    return CliRunner().invoke(main, ["quarantine", *args], catch_exceptions=False)


BODY = b"data=" + HOSTILE.encode()


def keep(data_dir, body=BODY):
    return quarantine.keep(data_dir, 1 << 20, REQUEST, [("X-Evil", HOSTILE), ("Authorization", "Basic eDp5")], body)


def test_list_show_release_and_release_again(environment, data_dir):
    first, second = keep(data_dir), keep(data_dir)
    listed = run("list", "--json")
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [row["id"] for row in rows] == [first, second] and rows[0]["released_as"] is None
    table = run("list")
    assert table.exit_code == 0 and "\x1b" not in table.output and "waiting" in table.output
    shown = run("show", first)
    assert shown.exit_code == 0 and "\x1b" not in shown.output and "\x07" not in shown.output
    assert "X-Evil" in shown.output and "eDp5" not in shown.output and "Authorization" not in shown.output

    released = run("release", first)
    assert released.exit_code == 0 and released.output.startswith(f"released {first} as capture ")
    again = run("release", first)
    assert "was already released" in again.output and again.exit_code == 0
    assert [record["released_from"] for record in read_kind(data_dir, "captures")] == [first]
    assert run("release", "--all").output.startswith(f"released {second}")
    assert len(read_kind(data_dir, "captures")) == 2
    assert "nothing to release" in run("release", "--all").output


def test_unknown_ids_fail_after_trying_the_others_and_drop(environment, data_dir):
    kept = keep(data_dir)
    done = run("drop", "01KB3Q6E0M8ZJ7V6Q2W5T9X4YR", kept)
    assert done.exit_code == 1
    assert "cannot drop 01KB3Q6E0M8ZJ7V6Q2W5T9X4YR: no quarantined post" in done.output
    assert f"dropped {kept}" in done.output and quarantine.entries(data_dir) == []
    assert run("show", "nope" + HOSTILE).exit_code == 1
    assert run("release").exit_code == 2  # neither ids nor --all
