"""replay as a real ``smartech-dumper`` process (interrupted, on a terminal), and round trips through real receivers."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from click.testing import CliRunner

from receiver.core.queues import get_queue
from receiver.core.settings import load
from scripts.replay.command import replay
from tests.support.batches import job_of, summary_of
from tests.support.capture_factory import body_bytes, read_all
from tests.support.helpers import PASSWORD, USER, read_terminal, wait_until
from tests.unit.scripts.replay import test_replay as in_process
from tests.unit.scripts.replay.test_replay import COUNT, arrived, expected, run, to

# The in-process module's fixtures, bound here too: pytest finds a fixture by the module attribute holding it.
captures, no_replay_env, staging = in_process.captures, in_process.no_replay_env, in_process.staging

BIN = os.path.dirname(sys.executable)


def test_resume_after_an_interrupt_sends_each_capture_exactly_once(captures, staging, data_dir, tmp_path, env):
    url, staging_dir, gate = staging
    state = str(tmp_path / "replay.state")
    args = ["--data-dir", data_dir, *to(url, "--resume", state, "--rate", "8", "--concurrency", "2", "-q")]
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "replay", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: gate.count >= 4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    partial = len(read_all(staging_dir, "captures"))
    assert 4 <= partial < COUNT
    with open(state, "ab") as handle:
        handle.write(b'{"i": 99, "id": "torn')  # a line cut short by a crash is ignored
    result = run(data_dir, *to(url, "--resume", state, "--concurrency", "3"))
    assert result.exit_code == 0, result.output
    assert f"sent {COUNT - partial} " in result.stdout
    assert arrived(staging_dir) == expected(captures)


def test_progress_bar_on_a_terminal_only(captures, staging, data_dir):
    import pty

    url, _, _ = staging

    def replay_on_tty(*extra):
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [os.path.join(BIN, "smartech-dumper"), "replay", "--data-dir", data_dir, *to(url, "--limit", "3", *extra)],
            stdout=subprocess.PIPE,
            stderr=follower,
        )
        os.close(follower)
        progress = read_terminal(leader)
        proc.wait(timeout=30)
        return progress, proc.stdout.read().decode()

    progress, summary = replay_on_tty()
    assert "replayed 3/3 (100%)" in progress and "ETA 0:00:00" in progress
    assert summary.startswith("sent 3 to")
    quiet, summary = replay_on_tty("-q")
    assert "replayed" not in quiet and summary.startswith("sent 3 to")


ODD_BODIES = [
    (b'{"smartech_panel": []}\r\n  ', "application/json; charset=utf-8"),
    (b"\xff\xfe\x00 not utf-8 at all", "application/octet-stream"),
    (b"data=%7B%7D", None),
    (b"", "application/x-www-form-urlencoded"),
    (b"x" * 200_000, "text/plain"),
    (("data=" + json.dumps({"p": [{"CITY": "Zürich & मुंबई +1"}]}, ensure_ascii=False)).encode(), "text/plain; x=1"),
]


@pytest.mark.slow
def test_round_trip_between_two_real_receivers_is_byte_identical(env, tmp_path):
    import requests

    from scripts.ops.send import send
    from tests.support.procs import Web

    first_dir, second_dir = str(tmp_path / "first"), str(tmp_path / "second")
    base = {**os.environ, **env, "DUMPER_FORWARDER": "false"}
    first = Web({**base, "DUMPER_DATA_DIR": first_dir})
    second = Web({**base, "DUMPER_DATA_DIR": second_dir, "DUMPER_QUEUE": "second"})
    try:
        sent = CliRunner().invoke(send, [first.url + "/webhook/crm", "--user", USER, "--password", PASSWORD])
        assert sent.exit_code == 0, sent.output
        for body, content_type in ODD_BODIES:
            headers = {"Content-Type": content_type} if content_type else {}
            answer = requests.post(
                first.url + "/webhook/odd/", data=body, headers=headers, auth=(USER, PASSWORD), timeout=10
            )
            assert answer.status_code == 200
        originals = read_all(first_dir, "captures")
        assert len(originals) == len(samples_labels()) + len(ODD_BODIES)
        result = CliRunner().invoke(
            replay, ["--data-dir", first_dir, *to(second.url + "/webhook/", "--keep-path", "--concurrency", "4")]
        )
        assert result.exit_code == 0, result.output
    finally:
        first.stop()
        second.stop()

    def wire(records):
        return Counter((body_bytes(r), r["content_type"], r["path"], r["source"], r["size"]) for r in records)

    copies = read_all(second_dir, "captures")
    assert wire(copies) == wire(originals)
    assert {r["content_type"] for r in copies} >= {None, "application/json; charset=utf-8", "text/plain; x=1"}
    assert any(r.get("body_encoding") == "base64" for r in copies)


def samples_labels():
    """Return the labels of the samples ``send`` posts."""
    from receiver.replay import samples

    return [label for label, _ in samples.sample_bodies()]


@pytest.mark.slow
def test_round_trip_through_the_queue_writes_no_duplicate_events(env, data_dir):

    from scripts.ops.send import send
    from tests.support.helpers import backlog
    from tests.support.procs import Web, run_burst_worker

    proc_env = {**os.environ, **env, "DUMPER_FORWARDER": "true"}
    web = Web(proc_env)
    try:
        sent = CliRunner().invoke(send, [web.url + "/webhook/", "--user", USER, "--password", PASSWORD])
        assert sent.exit_code == 0, sent.output
        wait_until(lambda: backlog(data_dir) == 0)
    finally:
        web.stop()
    run_burst_worker(proc_env)
    events = Counter(e["event_id"] for e in read_all(data_dir, "events"))
    captures = read_all(data_dir, "captures")
    assert len(events) == len(captures) == len(samples_labels()) and set(events.values()) == {1}
    replayed = subprocess.run(
        [os.path.join(BIN, "smartech-dumper"), "replay", "--enqueue", "--data-dir", data_dir],
        env=proc_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"ok {len(captures)} (enqueued×{len(captures)})" in replayed.stdout
    run_burst_worker(proc_env)
    assert Counter(e["event_id"] for e in read_all(data_dir, "events")) == events
    connection = get_queue(load(proc_env)).connection
    for capture in captures:  # every capture really ran again, and found its events already written
        result = summary_of(job_of(connection, capture["id"]), capture["id"])
        assert result["events"] == 0 and result["duplicates"] == 1
