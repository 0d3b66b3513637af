"""The real ``smartech-dumper`` on a pseudo-terminal and on pipes: escaped text, and exact bytes only on request."""

import os
import pty
import select
import signal
import subprocess
import time

import pytest

from tests.support.capture_factory import body_bytes, make_capture, smartech_body, utc
from tests.support.helpers import read_terminal, read_terminal_bytes
from tests.support.hostile import (
    BIN,
    COLOUR,
    ESCAPED,
    NOT_UTF8,
    assert_safe,
    assert_visible,
    hostile_captures,
    no_colour_env,
    run_on_a_tty,
    write_day,
)

WHEN = utc(2026, 3, 1, 9, 0, 0)
CLI = os.path.join(BIN, "smartech-dumper")

pytestmark = pytest.mark.slow  # every test runs the real CLI in a process of its own, most on a terminal


@pytest.fixture
def hostile(data_dir):
    """Write the four hostile captures to one day file; return them."""
    return write_day(data_dir, hostile_captures(WHEN))


def test_list_on_a_terminal_writes_no_escape_sequence(hostile, data_dir):
    status, out, err = run_on_a_tty(["list", "--data-dir", data_dir], no_colour_env())
    assert status == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert_safe(out, one_per_line=True)
    assert_visible(out, ESCAPED[:2], natives=("मुंबई",))
    assert len(out.splitlines()) == 1 + len(hostile)


def test_list_in_colour_keeps_its_own_colours_and_nothing_else(hostile, data_dir):
    env = {name: value for name, value in os.environ.items() if name != "NO_COLOR"}
    status, out, _ = run_on_a_tty(["list", "--data-dir", data_dir], env)
    assert status == 0 and COLOUR.search(out)
    assert_safe(COLOUR.sub("", out), one_per_line=True)


@pytest.mark.parametrize("which, args", [(0, []), (1, []), (2, ["--raw"]), (0, ["--json"])])
def test_show_on_a_terminal_writes_no_escape_sequence(hostile, data_dir, which, args):
    status, out, err = run_on_a_tty(["show", "--data-dir", data_dir, hostile[which]["id"], *args], no_colour_env())
    assert status == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert_safe(out)
    assert hostile[which]["id"] in out and "मुंबई" in out


def test_show_on_a_pipe_writes_no_escape_sequence(hostile, data_dir):
    result = subprocess.run([CLI, "show", "--data-dir", data_dir, hostile[1]["id"]], capture_output=True)
    assert result.returncode == 0, result.stderr
    assert not set(result.stdout) & {0x1B, 0x07, 0x00, 0x7F}
    assert_safe(result.stdout.decode("utf-8"))
    assert_visible(result.stdout.decode("utf-8"))


@pytest.mark.parametrize("which, expected", [(1, None), (2, NOT_UTF8)])
def test_raw_bytes_writes_the_exact_body_to_a_pipe(hostile, data_dir, which, expected):
    result = subprocess.run(
        [CLI, "show", "--data-dir", data_dir, hostile[which]["id"], "--raw-bytes"], capture_output=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (expected or body_bytes(hostile[which]))
    assert b"\x1b]0;pwned\x07" in result.stdout


def test_raw_bytes_refuses_a_terminal_unless_forced(hostile, data_dir):
    args = ["show", "--data-dir", data_dir, hostile[2]["id"], "--raw-bytes"]
    status, out, err = run_on_a_tty(args, no_colour_env())
    assert status == 1 and out == ""
    assert err.startswith("Error: refusing to write the raw body bytes to a terminal") and "--force" in err
    leader, follower = pty.openpty()
    proc = subprocess.Popen([CLI, *args, "--force"], stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    shown = read_terminal_bytes(leader)
    assert proc.wait(timeout=30) == 0
    assert shown.replace(b"\r\n", b"\n") == NOT_UTF8  # the terminal turned \n into \r\n


@pytest.mark.parametrize("args", [["--raw-bytes", "--json"], ["--raw-bytes", "--raw"], ["--force"]])
def test_raw_bytes_goes_alone(hostile, data_dir, args):
    result = subprocess.run([CLI, "show", "--data-dir", data_dir, hostile[2]["id"], *args], capture_output=True)
    assert result.returncode == 2 and result.stdout == b""
    assert b"goes with --raw-bytes" in result.stderr or b"--raw-bytes prints the body alone" in result.stderr


def read_until(leader, marker, timeout=15):
    """Return what the terminal ``leader`` shows until a whole line holding ``marker`` has arrived."""
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data or not data.split(marker, 1)[1].count(b"\n"):
        assert time.monotonic() < deadline, f"no {marker!r} in {data!r}"
        if select.select([leader], [], [], 0.2)[0]:
            data += os.read(leader, 65536)
    return data


def test_tail_follow_on_a_terminal_escapes_new_captures(data_dir):
    first = write_day(data_dir, [make_capture(WHEN.replace(hour=8), smartech_body())])[0]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [CLI, "tail", "-f", "-n", "1", "--data-dir", data_dir],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=no_colour_env(),
    )
    os.close(follower)
    try:
        seen = read_until(leader, first["id"].encode())
        arrived = write_day(data_dir, hostile_captures(WHEN))
        seen += read_until(leader, arrived[2]["id"].encode())
    finally:
        proc.send_signal(signal.SIGINT)
        seen += read_terminal(leader).encode()
        assert proc.wait(timeout=10) == 0
    text = seen.decode("utf-8").replace("\r\n", "\n")
    assert b"\x1b" not in seen and b"\x07" not in seen
    assert_safe(text, one_per_line=True)
    assert_visible(text, ESCAPED[:2], natives=("मुंबई",))
    assert all(record["id"] in text for record in arrived[:3])
    assert b"Traceback" not in proc.stderr.read()
