"""A short chaos run in every `make test`: a real stack under random faults loses and duplicates nothing."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow
SECONDS = os.environ.get("DUMPER_CHAOS_SECONDS", "60")
SEED = os.environ.get("DUMPER_CHAOS_SEED", "7")


def test_a_short_chaos_run_loses_and_duplicates_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "tests.system.chaos", "--duration", SECONDS, "--seed", SEED],
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(done.stdout)  # the table, for the CI log
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lost (a 200 without its events)  0" in done.stdout and "duplicated events                0" in done.stdout
