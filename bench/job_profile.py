"""Profile a one-event capture job in process, without RQ around it: where a job's time goes.

    python -m bench.job_profile [--fsync true|false] [--jobs 2000]

Prints the time per job and cProfile's top functions by their own time. The job touches no Redis
(without a routes file), so none is needed.
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


def main(argv=None):
    """Time and profile one-event jobs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsync", default="true", choices=("true", "false"))
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args(argv)
    with scratch_dir("job-profile") as data_dir:
        os.environ.update(DUMPER_DATA_DIR=data_dir, DUMPER_FSYNC=args.fsync, REDIS_URL="unix:///nonexistent.sock")
        from jobs.process import process_capture

        todo = captures(WARMUP + 2 * args.jobs)
        for capture in todo[:WARMUP]:
            process_capture(capture)
        timed, profiled = todo[WARMUP : WARMUP + args.jobs], todo[WARMUP + args.jobs :]
        began = time.perf_counter()
        for capture in timed:
            process_capture(capture)
        per_job = (time.perf_counter() - began) / args.jobs * 1e6
        print(f"one-event job, DUMPER_FSYNC={args.fsync}: {per_job:.0f} µs per job over {args.jobs} jobs")
        profile = cProfile.Profile()
        profile.enable()
        for capture in profiled:
            process_capture(capture)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
