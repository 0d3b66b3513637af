"""tail -f and colour in the real ``smartech-dumper``, in processes of their own, on pipes and terminals."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.support.capture_factory import days_ago, make_capture, smartech_body, utc, write_captures
from tests.support.helpers import read_terminal
from tests.unit.scripts.view import test_view_commands as in_process
from tests.unit.scripts.view.test_view_commands import ANSI

# The in-process module's fixtures, bound here too: pytest finds a fixture by the module attribute holding it.
dataset = in_process.dataset

BIN = os.path.dirname(sys.executable)


def read_lines_until(proc, count, timeout=15):
    """Return ``count`` lines of ``proc``'s stdout, failing after ``timeout`` seconds."""
    lines, buffer, deadline = [], b"", time.monotonic() + timeout
    while len(lines) < count:
        assert time.monotonic() < deadline, f"got only {lines}"
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"tail exited: {proc.wait()}"
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines.extend(line.decode() for line in complete)
    return lines


@pytest.mark.slow  # the real CLI following files in a process of its own
def test_tail_follow_sees_new_captures_across_the_midnight_file_change(data_dir):
    before, after = utc(2026, 3, 1, 23, 59, 59), utc(2026, 3, 2, 0, 0, 1)
    write_captures(data_dir, [make_capture(before.replace(hour=23, minute=0), smartech_body())])
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "tail", "-f", "-n", "1", "--json", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert len(read_lines_until(proc, 1)) == 1
        late = write_captures(data_dir, [make_capture(before, smartech_body("EMAIL_OPEN"))])
        assert json.loads(read_lines_until(proc, 1)[0])["id"] == late[0]["id"]
        new_day = write_captures(data_dir, [make_capture(after, smartech_body("APN_VIEW"))])
        straggler = write_captures(data_dir, [make_capture(before, smartech_body("BPN_VIEW"))])
        got = [json.loads(line) for line in read_lines_until(proc, 2)]
        assert {row["id"] for row in got} == {new_day[0]["id"], straggler[0]["id"]}
        assert {row["webhook_names"][0] for row in got} == {"APN_VIEW", "BPN_VIEW"}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert b"Traceback" not in proc.stderr.read()


@pytest.mark.slow  # the real CLI following files in a process of its own
def test_tail_follow_from_nothing_shows_only_what_arrives(data_dir):
    old = write_captures(data_dir, [make_capture(days_ago(0, hour=0), smartech_body())])
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), "tail", "-f", "-n", "0", "--json", "--data-dir", data_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.5)  # three polls: what was there must not come out
        new = write_captures(data_dir, [make_capture(days_ago(0, hour=0).replace(minute=5), smartech_body())])
        assert [json.loads(line)["id"] for line in read_lines_until(proc, 1)] == [new[0]["id"]]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert old[0]["id"] not in proc.stdout.read().decode()


def run_on_a_tty(args, env):
    """Run the CLI with stdout on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [os.path.join(BIN, "smartech-dumper"), *args], stdout=follower, stderr=subprocess.PIPE, env=env
    )
    os.close(follower)
    output = read_terminal(leader)
    proc.wait(timeout=30)
    return output


@pytest.mark.slow  # the real CLI on a terminal, in processes of its own
def test_colour_only_on_a_terminal_and_never_with_no_color(dataset, data_dir):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    args = ["list", "--data-dir", data_dir]
    assert ANSI.search(run_on_a_tty(args, env))
    assert not ANSI.search(run_on_a_tty(args, {**env, "NO_COLOR": "1"}))
    piped = subprocess.run([os.path.join(BIN, "smartech-dumper"), *args], capture_output=True, env=env, text=True)
    assert not ANSI.search(piped.stdout) and "SMS_CLICK" in piped.stdout
    shown = run_on_a_tty(["show", "--data-dir", data_dir, dataset["new"][0]["id"]], {**env, "NO_COLOR": "1"})
    assert "SMS_CLICK" in shown and not ANSI.search(shown)
