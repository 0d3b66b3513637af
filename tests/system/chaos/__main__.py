"""``python -m tests.system.chaos``: realistic batches against a real stack while faults strike; 0 lost, 0 duplicated.

    python -m tests.system.chaos [--duration 180] [--rate 25] [--seed N] [--keep]

Prints one table (see ``report``) and exits 1 if anything was lost or
duplicated or a non-200 is unexplained. ``make chaos`` runs it; ``make test``
runs a 60-second one.
"""

import argparse
import random
import shutil
import sys
import tempfile
import threading

from tests.system.chaos.faults import Injector
from tests.system.chaos.load import Load
from tests.system.chaos.report import verify
from tests.system.chaos.stack import Stack

DEFAULT_DURATION = 180.0
DEFAULT_RATE = 25.0


def main(argv=None):
    """Run one chaos run and return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.system.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="seconds of load and faults")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="posts a second")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault schedule and the bodies")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data) afterwards")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    workdir = tempfile.mkdtemp(prefix="chaos-", dir="/tmp")  # short: Redis's unix socket path must stay short
    print(f"chaos: seed {seed}, {args.duration:.0f}s at {args.rate:g} posts/s, work dir {workdir}", flush=True)
    stack = Stack(workdir)
    try:
        injector = Injector(stack, random.Random(rng.random()))
        faults = threading.Thread(target=injector.run, args=(args.duration,), daemon=True)
        faults.start()
        posts = Load(stack.url, args.rate, rng, injector).run(args.duration)
        faults.join()
        ok = verify(stack, posts, injector, args.duration, seed)
    finally:
        stack.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("chaos: PASS" if ok else f"chaos: FAIL (logs kept with --keep; seed {seed})", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
