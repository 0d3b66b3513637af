"""The hot path alone: µs per webhook request in this process, ours against bare Flask, and where ours spends it.

Both apps are called through their WSGI entry with the bench's 2.4 KB body (no sockets, no gunicorn, no
forwarder): what is left is the Flask request itself and what our view adds to it (the gate, reading the
body, the capture id, the record, the append and, with ``--fsync``, the sync). Prints the µs per request
of each, their ratio, and cProfile's top functions of ours by their own time.

    python -m bench.ack_profile [--requests 5000] [--fsync]
"""

import argparse
import base64
import cProfile
import io
import os
import pstats
import time

from bench import load
from bench.bare_app import app as bare_app
from bench.procs import PASSWORD, USER, scratch_dir
from receiver.web import create_app

REQUESTS = 5000
TOP = 20


def client_call(app, body, headers):
    """Return a function that posts ``body`` to ``app``'s /webhook through its WSGI entry."""
    client = app.test_client()

    def call():
        answer = client.post("/webhook", data=body, headers=headers)
        assert answer.status_code == 200, answer.status_code

    return call


def per_request_us(call, count):
    """Return the mean µs of ``count`` calls (after 200 warm-up calls)."""
    for _ in range(200):
        call()
    started = time.perf_counter()
    for _ in range(count):
        call()
    return 1e6 * (time.perf_counter() - started) / count


def main():
    """Time both apps, print the ratio and the profile of ours."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--fsync", action="store_true", help="sync each capture, as the default DUMPER_FSYNC=true")
    options = parser.parse_args()
    with scratch_dir("ack-profile-") as workdir:
        body_file = os.path.join(workdir, "body")
        load.write_body(body_file)
        with open(body_file, "rb") as handle:
            body = handle.read()
        env = {
            "DUMPER_DATA_DIR": os.path.join(workdir, "var"),
            "REDIS_URL": "unix:///nonexistent/redis.sock",  # the hot path never talks to Redis
            "DUMPER_BASIC_AUTH": f"{USER}:{PASSWORD}",
            "DUMPER_FSYNC": "true" if options.fsync else "false",
            "DUMPER_LOG_LEVEL": "WARNING",
        }
        auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
        ours = client_call(create_app(env), body, headers)
        bare = client_call(bare_app, body, headers)
        figures = {"ours": [], "bare": []}
        for _ in range(3):  # alternating rounds
            figures["ours"].append(per_request_us(ours, options.requests))
            figures["bare"].append(per_request_us(bare, options.requests))
        best = {name: min(values) for name, values in figures.items()}
        print(f"{len(body)} B body, {options.requests} requests a round, 3 alternating rounds, best of each:")
        print(f"  ours {best['ours']:.1f} µs/request, bare Flask {best['bare']:.1f} µs/request")
        print(f"  bare / ours (the most a server could give us of bare's req/s): {best['bare'] / best['ours']:.2f}")
        print(f"  ours adds {best['ours'] - best['bare']:.1f} µs to each request")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(options.requests):
            ours()
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(TOP)
        print(text.getvalue())


if __name__ == "__main__":
    main()
