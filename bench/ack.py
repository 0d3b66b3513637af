"""Ack path: our receiver against a bare Flask app under the same gunicorn settings, both driven by wrk.

1. Sweep: short alternating rounds of ours and bare for each candidate gunicorn setting (gevent, the
   shipped worker class, at several process counts); the setting that gives ours the most requests/s
   is the recommendation (the current default stays unless beaten by more than 5%), and the rest of
   the bench uses it.
2. Main: alternating rounds of bare and of ours in four configurations: as shipped by `serve` (fsync
   on, a forwarder process at nice 10), fsync off, no forwarder, and both off. Medians, ratios
   ours/bare, web worker RSS. The queue is emptied between rounds, as if workers kept up.
3. Trouble: no worker and a backlog of queued jobs that keeps growing; then Redis killed.
   Rounds alternate with bare again; then 1 connection at a time, for unloaded latencies.

Every round of ours is checked id by id: each 200 names a capture id that must be in the captures
log, and the log may hold only the few extra requests wrk had in flight when its clock ran out.

    python -m bench.ack [--seconds 6] [--rounds 3] [--quick]
"""

import argparse
import json
import os
import subprocess
import time

import redis

from bench import batches, captures, load
from bench.procs import BARE_APP, BIN, OUR_APP, ROOT, Gunicorn, Redis, base_env, scratch_dir, stop
from bench.report import median, ratio, table
from receiver.core import queues as queueing
from receiver.core import settings as settings_mod
from receiver.forwarder import enqueue
from receiver.procs.commands import FORWARDER_NICE

# gevent is the shipped worker class (slow clients cost a greenlet, not a thread): only its process count is swept.
DEFAULT_SETTING = ("gevent", settings_mod.DEFAULT_WEB_PROCESSES, 1)  # what `serve` runs without WEB_CONCURRENCY
SETTINGS = [DEFAULT_SETTING] + [("gevent", n, 1) for n in (2, 4, 6) if n != settings_mod.DEFAULT_WEB_PROCESSES]
CONFIGURATIONS = [
    ("ours", {}, True),
    ("ours-fsync-off", {"DUMPER_FSYNC": "false"}, True),
    ("ours-no-forwarder", {}, False),
    ("ours-fsync-off-no-forwarder", {"DUMPER_FSYNC": "false"}, False),
]
KEEP_DEFAULT_WITHIN = 0.05  # a setting must beat the default by more than this to replace it
CONNECTIONS = 16
GTHREAD = ("gthread", 2, 4)  # the other shipped worker class, both sides: 2 processes of 4 threads
BACKLOG_PREFILL = 50_000
PREFILL_CHUNK = 1000
PROBE_SECONDS = 3
MIN_PROBE_REQUESTS = 1000
SETTLE_TIMEOUT = 120
FIGURES = ("rps", "p50", "p99", "p999")


class Variant:
    """One server under test: bare, or ours with some settings; it keeps its rounds' results."""

    def __init__(self, name, app, workdir, redis_url, setting, forwarder=True, **env):
        self.name, self.app, self.setting = name, app, setting
        self.data_dir = os.path.join(workdir, name)
        self.env = base_env(self.data_dir, redis_url, **env)
        self.forwards = forwarder and app == OUR_APP
        self.rounds = []
        self.forwarder = None
        worker_class, workers, threads = setting
        self.server = Gunicorn(
            app, self.env, worker_class, workers, threads, log_path=os.path.join(workdir, f"{name}.log")
        )
        if self.forwards:  # as `smartech-dumper serve` runs it
            self.forwarder = subprocess.Popen(
                [os.path.join(BIN, "smartech-dumper"), "forward", "--nice", str(FORWARDER_NICE)],
                env=self.env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    @property
    def ours(self):
        """Say whether this is our receiver (which writes captures to check)."""
        return self.app == OUR_APP

    def stop(self):
        """Stop the server and its forwarder process; stopping twice is harmless."""
        if self.forwarder:
            stop(self.forwarder)
        self.server.stop()


class Bench:
    """The shared pieces of every round: body, wrk settings, the private Redis, the running servers."""

    def __init__(self, workdir, seconds, connections=CONNECTIONS):
        self.workdir, self.seconds, self.connections = workdir, seconds, connections
        self.body_file = os.path.join(workdir, "body")
        self.body_size = load.write_body(self.body_file)
        self.redis = Redis(os.path.join(workdir, "redis"))
        self.redis_up = True
        self.count = 0
        self.running = []

    def start(self, name, app, setting, **options):
        """Start a server (stopped by ``close`` whatever happens) and return it."""
        variant = Variant(name, app, self.workdir, self.redis.url, setting, **options)
        self.running.append(variant)
        return variant

    def close(self):
        """Stop every server and the private Redis."""
        for variant in self.running:
            variant.stop()
        self.redis.stop()

    def client(self):
        """Return a client of the private Redis."""
        return redis.Redis.from_url(self.redis.url)

    def round(self, variant, seconds=None, connections=None, label=""):
        """Load ``variant`` once with wrk; check its captures; return the result."""
        self.count += 1
        ids_file = os.path.join(self.workdir, f"ids-{self.count}")
        before = captures.snapshot(variant.data_dir) if variant.ours else None
        load_average = os.getloadavg()[0]
        result = load.run_wrk(
            variant.server.url,
            self.body_file,
            seconds or self.seconds,
            connections or self.connections,
            ids_file=ids_file if variant.ours else None,
        )
        result.update(variant=variant.name, label=label, load_average_before=load_average)
        if variant.ours:
            time.sleep(0.5)  # let the requests wrk abandoned at its deadline finish
            forwarding = self.redis_up and variant.forwards
            result["forwarder_lag"] = captures.pending(variant.data_dir) if forwarding else None
            result["check"] = captures.check(variant.data_dir, before, ids_file, result)
            os.unlink(ids_file)
            if forwarding:
                self.settle(variant)
        variant.rounds.append(result)
        check = result.get("check")
        print(
            f"  {variant.name:<22} {label:<10} {result['rps']:>8,.0f} req/s  p50 {result['p50']:6.2f}  "
            f"p99 {result['p99']:6.2f}  p99.9 {result['p999']:6.2f} ms"
            + (
                f"  captures {check['captures']:,} = 200s {check['acked_200']:,} + in flight "
                f"{check['extra_in_flight']} {'OK' if check['ok'] else 'MISMATCH'}"
                if check
                else ""
            ),
            flush=True,
        )
        return result

    def settle(self, variant):
        """Wait until the forwarder has handed every capture to Redis, so it does not run into the next round."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline and captures.pending(variant.data_dir):
            time.sleep(0.1)

    def empty_queue(self):
        """Drop every job, as if workers had kept up."""
        if self.redis_up:
            self.client().flushdb()


def summarize(variant, label=None):
    """Return the median figures of ``variant``'s rounds (those with ``label`` if given)."""
    rounds = [r for r in variant.rounds if label is None or r["label"] == label]
    out = {name: median([r[name] for r in rounds]) for name in FIGURES}
    out.update(
        rounds=len(rounds),
        requests=sum(r["ok"] for r in rounds),
        rps_min=min((r["rps"] for r in rounds), default=None),
        rps_max=max((r["rps"] for r in rounds), default=None),
        errors=sum(r["other"] + sum(r["errors"].values()) - r["errors"]["status"] for r in rounds),
    )
    checks = [r["check"] for r in rounds if "check" in r]
    if checks:
        out["captures_check"] = all(c["ok"] for c in checks)
        out["captures"] = sum(c["captures"] for c in checks)
        out["acked_200"] = sum(c["acked_200"] for c in checks)
    lags = [r.get("forwarder_lag") for r in rounds if r.get("forwarder_lag") is not None]
    if lags:
        out["forwarder_lag_max"] = max(lags)
    return out


def ratios(ours, bare):
    """Return ours/bare for every figure."""
    return {name: ratio(ours[name], bare[name]) for name in FIGURES}


def alternate(bench, variants, rounds, label="", between=None, seconds=None):
    """Run ``rounds`` rounds of every variant, rotating the order each round."""
    for number in range(rounds):
        shift = number % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            if between:
                between()
            bench.round(variant, seconds=seconds, label=label)


def sweep(bench, settings, rounds, seconds):
    """Measure ours and bare under each gunicorn setting; return the rows and the best setting."""
    rows = []
    for setting in settings:
        name = "{}-w{}-t{}".format(*setting)
        ours = bench.start(f"sweep-ours-{name}", OUR_APP, setting)
        bare = bench.start(f"sweep-bare-{name}", BARE_APP, setting)
        alternate(bench, [ours, bare], rounds, label="sweep", between=bench.empty_queue, seconds=seconds)
        o, b = summarize(ours), summarize(bare)
        rows.append(
            {"setting": setting, "ours": o, "bare": b, "ratios": ratios(o, b), "rss_mb": ours.server.worker_rss_mb()}
        )
        ours.stop()
        bare.stop()
    best = max(rows, key=lambda row: (row["ours"]["rps"], -row["ours"]["p99"]))
    default = next((row for row in rows if row["setting"] == DEFAULT_SETTING), None)
    if default and best["ours"]["rps"] <= default["ours"]["rps"] * (1 + KEEP_DEFAULT_WITHIN):
        best = default  # within the noise of the default: keep it
    table(
        "Gunicorn settings for ours (DUMPER_FSYNC=true, forwarder process at nice 10), "
        f"{rounds}x{seconds}s each, {bench.connections} connections",
        [
            "worker class / workers / threads",
            "ours req/s",
            "ours p99 ms",
            "bare req/s",
            "bare p99 ms",
            "req/s ratio",
            "p99 ratio",
            "max RSS MB",
        ],
        [
            [
                "{} / {} / {}".format(*r["setting"]) + ("  <- best" if r is best else ""),
                r["ours"]["rps"],
                r["ours"]["p99"],
                r["bare"]["rps"],
                r["bare"]["p99"],
                r["ratios"]["rps"],
                r["ratios"]["p99"],
                max(r["rss_mb"]),
            ]
            for r in rows
        ],
        digits=2,
    )
    return rows, best["setting"]


def prefill(bench, count):
    """Queue ``count`` capture jobs at once, as a backlog left by stopped workers; return the queue length."""
    settings = settings_mod.load(overrides={"REDIS_URL": bench.redis.url})
    queue = queueing.get_queue(settings, bench.client())
    with open(bench.body_file, "rb") as handle:
        raw = handle.read()
    for start in range(0, count, PREFILL_CHUNK):
        enqueue.enqueue_absent(queue, [batches.record(raw) for _ in range(min(PREFILL_CHUNK, count - start))], settings)
    return queue.count


def queue_depth(bench):
    """Return the number of queued jobs (None when Redis is down)."""
    if not bench.redis_up:
        return None
    settings = settings_mod.load(overrides={"REDIS_URL": bench.redis.url})
    return queueing.get_queue(settings, bench.client()).count


def figure_rows(entries):
    """Return table rows of (name, figures, ratios) entries."""
    return [
        [
            name,
            f["rps"],
            f["p50"],
            f["p99"],
            f["p999"],
            r["rps"] if r else None,
            r["p50"] if r else None,
            r["p99"] if r else None,
            r["p999"] if r else None,
        ]
        for name, f, r in entries
    ]


FIGURE_HEADERS = ["server", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "x req/s", "x p50", "x p99", "x p99.9"]


def run(
    workdir,
    seconds=6,
    rounds=3,
    sweep_seconds=3,
    sweep_rounds=3,
    settings=SETTINGS,
    trouble_rounds=2,
    connections=CONNECTIONS,
    prefill_count=BACKLOG_PREFILL,
):
    """Run the sweep, the main rounds and the trouble rounds; return every figure as a dict."""
    os.makedirs(workdir, exist_ok=True)
    bench = Bench(workdir, seconds, connections)
    print(
        f"Ack path: wrk, 1 thread, {connections} connections, POST /webhook with a {bench.body_size} B "
        f"form-encoded Smartech batch of {len(load.BATCH)} events and basic auth",
        flush=True,
    )
    out = {"body_bytes": bench.body_size, "connections": connections, "seconds_per_round": seconds}
    try:
        print("\n[ack] sweep of gunicorn settings", flush=True)
        out["sweep"], best = sweep(bench, settings, sweep_rounds, sweep_seconds)
        out["recommended"] = {"worker_class": best[0], "workers": best[1], "threads": best[2]}
        print(f"[ack] main rounds with {best[0]}, {best[1]} workers, {best[2]} threads", flush=True)
        bare = bench.start("bare", BARE_APP, best)
        configs = [
            bench.start(name, OUR_APP, best, forwarder=forwarder, **env) for name, env, forwarder in CONFIGURATIONS
        ]
        ours = configs[0]
        variants = [bare] + configs
        alternate(bench, variants, rounds, label="normal", between=bench.empty_queue)
        main = {v.name: summarize(v, "normal") for v in variants}
        for variant in variants:
            main[variant.name]["ratios"] = ratios(main[variant.name], main["bare"])
            main[variant.name]["rss_mb"] = variant.server.worker_rss_mb()
        out["main"] = main
        table(
            f"Ack path, medians of {rounds} alternating rounds of {seconds}s (x = ours / bare)",
            FIGURE_HEADERS,
            figure_rows([(v.name, main[v.name], main[v.name]["ratios"] if v is not bare else None) for v in variants]),
            digits=2,
        )
        table(
            "Checks, spread and memory",
            [
                "server",
                "req/s min-max",
                "200s",
                "captures",
                "every 200 captured",
                "errors",
                "forwarder lag max",
                "worker RSS MB",
            ],
            [
                [
                    v.name,
                    f"{main[v.name]['rps_min']:,.0f}-{main[v.name]['rps_max']:,.0f}",
                    main[v.name]["requests"],
                    main[v.name].get("captures"),
                    main[v.name].get("captures_check"),
                    main[v.name]["errors"],
                    main[v.name].get("forwarder_lag_max"),
                    " ".join(f"{mb:.0f}" for mb in main[v.name]["rss_mb"]),
                ]
                for v in variants
            ],
        )
        fsync_cost = {name: ratio(main["ours"][name], main["ours-fsync-off"][name]) for name in FIGURES}
        out["fsync_cost"] = fsync_cost
        print(
            f"fsync cost (fsync on / fsync off): req/s x{fsync_cost['rps']:.2f}, p50 x{fsync_cost['p50']:.2f}, "
            f"p99 x{fsync_cost['p99']:.2f}",
            flush=True,
        )
        for variant in configs[1:]:
            variant.stop()
        out["gthread"] = gthread_rounds(bench, rounds)
        out["trouble"] = trouble(bench, bare, ours, trouble_rounds, prefill_count, main)
    finally:
        bench.close()
    return out


def gthread_rounds(bench, rounds):
    """Ours (as shipped) against bare under gthread 2x4, alternating; return both and the ratios."""
    print(f"[ack] {GTHREAD[0]} {GTHREAD[1]}x{GTHREAD[2]}: ours against bare", flush=True)
    bare = bench.start("bare-gthread", BARE_APP, GTHREAD)
    ours = bench.start("ours-gthread", OUR_APP, GTHREAD, forwarder=True)
    try:
        alternate(bench, [bare, ours], rounds, label="gthread", between=bench.empty_queue)
        out = {"bare": summarize(bare, "gthread"), "ours": summarize(ours, "gthread")}
        out["ours"]["ratios"] = ratios(out["ours"], out["bare"])
    finally:
        bare.stop()
        ours.stop()
    table(
        f"Ack path, {GTHREAD[0]} {GTHREAD[1]}x{GTHREAD[2]} both sides, medians of {rounds} alternating rounds",
        FIGURE_HEADERS,
        figure_rows([("bare", out["bare"], None), ("ours", out["ours"], out["ours"]["ratios"])]),
        digits=2,
    )
    return out


def trouble(bench, bare, ours, rounds, prefill_count, main):
    """Measure the ack path with a growing backlog and no worker, then with Redis killed."""
    out = {}
    print(f"\n[ack] normal, unloaded: 1 connection for {PROBE_SECONDS}s", flush=True)
    probes = {"normal": bench.round(ours, seconds=PROBE_SECONDS, connections=1, label="probe")}
    print(f"[ack] trouble 1: no worker, {prefill_count:,} jobs queued beforehand and growing", flush=True)
    started = time.monotonic()
    depth_before = prefill(bench, prefill_count)
    print(f"  queued {depth_before:,} jobs in {time.monotonic() - started:.1f}s", flush=True)
    alternate(bench, [bare, ours], rounds, label="backlog")
    out["backlog_queue_depth"] = {"before": depth_before, "after": queue_depth(bench)}
    probes["backlog"] = bench.round(ours, seconds=PROBE_SECONDS, connections=1, label="probe")
    print("[ack] trouble 2: Redis killed", flush=True)
    bench.redis.stop()
    bench.redis_up = False
    time.sleep(1)
    alternate(bench, [bare, ours], rounds, label="redis-down")
    probes["redis-down"] = bench.round(ours, seconds=PROBE_SECONDS, connections=1, label="probe")
    entries = [("ours, normal (main)", main["ours"], main["ours"]["ratios"])]
    for label in ("backlog", "redis-down"):
        o, b = summarize(ours, label), summarize(bare, label)
        o["ratios"] = ratios(o, b)
        o["vs_normal"] = ratios(o, main["ours"])
        out[label] = {"ours": o, "bare": b}
        entries += [(f"bare, {label}", b, None), (f"ours, {label}", o, o["ratios"])]
    table(
        f"Ack path under trouble, medians of {rounds} alternating rounds (x = ours / bare of the same block)",
        FIGURE_HEADERS,
        figure_rows(entries),
        digits=2,
    )
    table(
        "Trouble against the normal run (ours in trouble / ours normal)",
        ["mode", "x req/s", "x p50", "x p99", "x p99.9", "every 200 captured"],
        [
            [
                label,
                out[label]["ours"]["vs_normal"]["rps"],
                out[label]["ours"]["vs_normal"]["p50"],
                out[label]["ours"]["vs_normal"]["p99"],
                out[label]["ours"]["vs_normal"]["p999"],
                out[label]["ours"].get("captures_check"),
            ]
            for label in ("backlog", "redis-down")
        ],
        digits=2,
    )
    alone = out["redis-down"]["ours"]
    print(
        f"With Redis down the forwarder has nothing to hand over, so that block is the hot path alone: "
        f"x{alone['ratios']['rps']:.2f} bare's req/s, p99 x{alone['ratios']['p99']:.2f}; the normal run, which "
        f"also forwards, reaches x{1 / alone['vs_normal']['rps']:.2f} of its req/s.",
        flush=True,
    )
    out["probes"] = {
        name: {k: p[k] for k in ("ok", "p50", "p99", "p999", "mean", "max")} | {"captures_check": p["check"]["ok"]}
        for name, p in probes.items()
    }
    table(
        f"Unloaded ack latency, 1 connection for {PROBE_SECONDS}s",
        ["mode", "requests", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "every 200 captured"],
        [
            [name, p["ok"], p["p50"], p["p99"], p["p999"], p["max"], p["captures_check"]]
            for name, p in out["probes"].items()
        ],
        digits=2,
    )
    if probes["redis-down"]["ok"] < MIN_PROBE_REQUESTS:
        print(f"note: only {probes['redis-down']['ok']} requests in the Redis-down probe")
    return out


def main():
    """Run the ack bench alone and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="short rounds, two settings: a smoke test")
    options = parser.parse_args()
    with scratch_dir("bench-ack-") as workdir:
        if options.quick:
            result = run(
                workdir,
                seconds=2,
                rounds=1,
                sweep_seconds=2,
                settings=SETTINGS[:2],
                trouble_rounds=1,
                prefill_count=2000,
            )
        else:
            result = run(workdir, options.seconds, options.rounds)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
