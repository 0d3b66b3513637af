"""Run one ``smartech-dumper`` command and report its own peak RSS.

``python -m bench.peak OUT -- list --json ...`` runs the CLI in this process
and, at exit, writes the peak resident set size in KiB to ``OUT``. It reads
``VmHWM`` from ``/proc/self/status``, which belongs to this program alone:
``getrusage``'s ``ru_maxrss`` also counts the parent's memory at ``fork``,
which hides what the command itself used.
"""

import atexit
import sys

from scripts.cli import main

STATUS = "/proc/self/status"
FIELD = "VmHWM:"


def peak_kib():
    """Return this process's peak RSS in KiB."""
    with open(STATUS, encoding="ascii") as handle:
        for line in handle:
            if line.startswith(FIELD):
                return int(line.split()[1])
    raise RuntimeError(f"no {FIELD} in {STATUS}")


def report(path):
    """Write the peak RSS to ``path``."""
    with open(path, "w", encoding="ascii") as handle:
        handle.write(f"{peak_kib()}\n")


if __name__ == "__main__":
    out, separator, *args = sys.argv[1:]
    if separator != "--":
        raise SystemExit("usage: python -m bench.peak OUT -- COMMAND [ARGS]...")
    atexit.register(report, out)
    main(args, prog_name="smartech-dumper")
