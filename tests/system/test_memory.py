"""The readers stream: peak memory over 200,000 captures is that over 20,000 (bench/replay_memory.py goes to 1.2M)."""

import subprocess
import sys

import pytest

from bench import synthetic
from tests.support.helpers import ROOT

SLACK_KIB = 8 * 1024  # far below what keeping 180,000 more captures (160 MB of lines) would add
DRY_RUN = ["replay", "--to", "http://127.0.0.1:9/webhook/", "--dry-run", "--json"]

pytestmark = pytest.mark.slow  # writes 180 MB of captures and runs four processes over them


def peak_kib(tmp_path, args, data_dir):
    """Run one CLI command in a fresh process and return its own peak RSS in KiB."""
    out = str(tmp_path / "peak")
    done = subprocess.run(
        [sys.executable, "-m", "bench.peak", out, "--", *args, "--data-dir", data_dir],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    with open(out, encoding="ascii") as handle:
        return int(handle.read()), done.stdout


def test_replay_and_list_memory_stays_flat_as_the_captures_grow(tmp_path):
    small, large = str(tmp_path / "small"), str(tmp_path / "large")
    synthetic.write(small, 20_000, days=2)
    written = synthetic.write(large, 200_000, days=2)
    assert written > 150_000_000
    small_peak, small_out = peak_kib(tmp_path, DRY_RUN, small)
    large_peak, large_out = peak_kib(tmp_path, DRY_RUN, large)
    assert small_out.count(b"\n") == 20_001 and large_out.count(b"\n") == 200_001
    assert large_peak < small_peak + SLACK_KIB, (small_peak, large_peak)
    list_small, _ = peak_kib(tmp_path, ["list", "--json", "--limit", "5000"], large)
    list_large, out = peak_kib(tmp_path, ["list", "--json", "--limit", "50000"], large)
    assert out.count(b"\n") == 50_000
    assert list_large < list_small + SLACK_KIB, (list_small, list_large)
