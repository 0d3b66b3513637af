"""Profile one-event captures processed in process, without RQ around them: where a capture's time goes.

    python -m bench.job_profile [--fsync true|false] [--jobs 2000] [--batch 500]

``--batch 1`` runs each capture alone (``process_capture``, what a job was before jobs of many captures);
a larger batch runs them ``N`` to a call of ``process_batch``, as the forwarder's jobs carry them. Prints
the time per capture and cProfile's top functions by their own time. Without a routes file the work
touches no Redis, so none is needed.
"""

import argparse
import copy
import cProfile
import os
import pstats
import time
import uuid
from datetime import UTC, datetime

from bench.procs import scratch_dir

WARMUP = 200


def captures(count):
    """Return ``count`` captures of one fresh Smartech event each, received now."""
    from receiver.replay import samples
    from tests.support.capture_factory import make_capture

    made = []
    for _ in range(count):
        event = copy.deepcopy(samples.CHANNEL_EVENTS[0])
        event["event_params"]["guid"] = str(uuid.uuid4())
        made.append(make_capture(datetime.now(UTC), samples.encode_body(samples.payload([event]))))
    return made


def job_runner(batch):
    """Return a function that processes a list of captures ``batch`` at a time, as the worker would."""
    if batch <= 1:
        from jobs.process import process_capture

        def alone(todo):
            for capture in todo:
                process_capture(capture)

        return alone
    from jobs.process import process_batch

    def batched(todo):
        for start in range(0, len(todo), batch):
            process_batch(todo[start : start + batch])

    return batched


def main(argv=None):
    """Time and profile one-event jobs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsync", default="true", choices=("true", "false"))
    parser.add_argument("--jobs", type=int, default=2000, help="captures timed (and as many profiled)")
    parser.add_argument("--batch", type=int, default=500, help="captures a call (1: each alone)")
    args = parser.parse_args(argv)
    with scratch_dir("job-profile") as data_dir:
        os.environ.update(DUMPER_DATA_DIR=data_dir, DUMPER_FSYNC=args.fsync, REDIS_URL="unix:///nonexistent.sock")
        work = job_runner(args.batch)
        todo = captures(WARMUP + 2 * args.jobs)
        work(todo[:WARMUP])
        timed, profiled = todo[WARMUP : WARMUP + args.jobs], todo[WARMUP + args.jobs :]
        began = time.perf_counter()
        work(timed)
        per_capture = (time.perf_counter() - began) / args.jobs * 1e6
        print(
            f"one-event captures, {args.batch} a call, DUMPER_FSYNC={args.fsync}: "
            f"{per_capture:.0f} µs per capture over {args.jobs} captures"
        )
        profile = cProfile.Profile()
        profile.enable()
        work(profiled)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
